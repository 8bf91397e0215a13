# caret's gbmFit3 (the seed's full grid: 90 candidates, 10x10 CV, ROC) and caret's own adaptive
# resampling (adaptive_cv with caret's defaults: min 5, alpha 0.05, gls, complete) on the same
# grid, partition and seed: the references of benchmarks/racing_vs.py.
# Run:  Rscript benchmarks/reference/caret_racing.R   (TIME / FITS / CHOSEN / RESULT lines)
suppressMessages({library(mlbench); library(caret)})
data(Sonar)
set.seed(998)
small <- nzchar(Sys.getenv("CARET_RACING_SMOKE"))  # a quick check of this script only
inTraining <- createDataPartition(Sonar$Class, p = .75, list = FALSE)
training <- Sonar[inTraining, ]
gbmGrid <- expand.grid(interaction.depth = c(1, 5, 9), n.trees = (1:30) * 50, shrinkage = 0.1,
                       n.minobsinnode = 20)
reps <- 10
if (small) { gbmGrid <- gbmGrid[gbmGrid$n.trees <= 100, ]; reps <- 1 }
report <- function(label, fit, seconds) {
  # a fit group (one interaction.depth) is fitted on every resample any of its n.trees got
  per <- aggregate(Resample ~ interaction.depth + n.trees, data = fit$resample, FUN = length)
  fits <- sum(tapply(per$Resample, per$interaction.depth, max))
  best <- fit$bestTune
  cat(sprintf("TIME %s %.2f\n", label, seconds))
  cat(sprintf("FITS %s %d\n", label, fits))
  cat(sprintf("CHOSEN %s %d %d\n", label, best$interaction.depth, best$n.trees))
  cat(sprintf("RESULT %s %.6f\n", label,
              fit$results$ROC[rownames(fit$results) == rownames(best)]))
}
run <- function(label, ctrl) {
  set.seed(825)
  t0 <- proc.time()[["elapsed"]]
  fit <- train(Class ~ ., data = training, method = "gbm", trControl = ctrl, verbose = FALSE,
               tuneGrid = gbmGrid, metric = "ROC")
  report(label, fit, proc.time()[["elapsed"]] - t0)
}
run("gbmFit3", trainControl(method = "repeatedcv", number = 10, repeats = reps, classProbs = TRUE,
                            summaryFunction = twoClassSummary, returnResamp = "all"))
run("adaptive_cv", trainControl(method = "adaptive_cv", number = 10, repeats = reps,
                                classProbs = TRUE, summaryFunction = twoClassSummary,
                                returnResamp = "all",
                                adaptive = list(min = 5, alpha = 0.05, method = "gls",
                                                complete = TRUE)))
