# caret's lm on BostonHousing with a main-effects and an interactions + poly formula, on 10-fold
# CV indices drawn here (seed 825); writes the folds (0-based) and resampled RMSEs as JSON.
# Run: Rscript benchmarks/reference/caret_formulas.R boston.csv out.json "FORMULA1" "FORMULA2"
suppressMessages(library(caret))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
d$chas <- factor(d$chas)
set.seed(825)
idx <- createFolds(d$medv, k = 10, returnTrain = TRUE)
ctrl <- trainControl(method = "cv", index = idx)
rmse <- sapply(args[3:length(args)], function(f) {
  fit <- train(as.formula(f), data = d, method = "lm", trControl = ctrl)
  fit$results$RMSE
})
js <- function(v) paste0("[", paste(v - 1, collapse = ","), "]")
cat("{\"index\": [", paste(sapply(idx, js), collapse = ","), "],\n \"rmse\": [",
    paste(sprintf("%.12f", rmse), collapse = ","), "]}\n", sep = "", file = args[2])
