"""train(): candidates planned, tasks executed, held-out scores kept, a candidate chosen, refit.

Its own layers, bottom to top (checked by ``lint-imports``): ``plan`` (candidates, fit groups,
tasks), ``display`` (caret-style printing), ``result`` (Scores, TrainResult), ``trainplan``
(TrainPlan), ``persist`` (what a stored run keeps), ``train`` (plan_train, run_plan, train).
"""
