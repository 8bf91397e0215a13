# randomForest's own fit time, for benchmarks/rf_engines.py: one 500-tree forest on all rows of
# Sonar or BostonHousing (caret's model.matrix predictors) at each mtry given, median of REPEATS.
# Debian packages: r-cran-randomforest r-cran-mlbench
# Run: Rscript benchmarks/reference/rf_engines.R DATA REPEATS MTRY...
suppressMessages({library(mlbench); library(randomForest)})
args <- commandArgs(trailingOnly = TRUE)
data_name <- args[[1]]; repeats <- as.integer(args[[2]]); mtrys <- as.integer(args[-(1:2)])
if (data_name == "sonar") {
  data(Sonar); x <- as.matrix(Sonar[, 1:60]); y <- Sonar$Class
} else {
  data(BostonHousing); x <- model.matrix(medv ~ ., BostonHousing)[, -1]; y <- BostonHousing$medv
}
for (m in mtrys) {
  set.seed(1)
  t <- median(sapply(seq_len(repeats), function(i)
    system.time(randomForest(x, y, ntree = 500, mtry = m))[["elapsed"]]))
  cat(sprintf("R_RF %d %.4f\n", m, t))
}
