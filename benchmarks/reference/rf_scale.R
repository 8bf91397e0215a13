# caret's rf workflow on a larger table, for benchmarks/rf_scale.py: train(method = "rf") with one
# mtry, ntree = 500, on one 80/20 split given as caret's index (so the same rows as leanfit), then
# the final fit on all rows, as caret does. Prints the workflow's seconds and held-out accuracy.
# Debian packages: r-cran-caret r-cran-randomforest
# Run: Rscript benchmarks/reference/rf_scale.R DATA.csv TRAIN_ROWS.txt MTRY NTREE REPEATS
Sys.setenv(TZ = "UTC")
suppressMessages({library(caret); library(randomForest)})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[[1]])
rows <- as.integer(scan(args[[2]], quiet = TRUE)) + 1L  # 0-based in the file
mtry <- as.integer(args[[3]]); ntree <- as.integer(args[[4]]); repeats <- as.integer(args[[5]])
x <- as.matrix(d[, setdiff(names(d), "y")]); y <- factor(d$y)
ctl <- trainControl(method = "LGOCV", index = list(Resample1 = rows), allowParallel = FALSE)
for (i in seq_len(repeats)) {
  set.seed(i)
  t <- system.time(fit <- train(x, y, method = "rf", ntree = ntree, tuneGrid = data.frame(mtry = mtry),
                                trControl = ctl))[["elapsed"]]
  cat(sprintf("R_CARET %.3f %.5f\n", t, fit$results$Accuracy[1]))
}
