# R glmnet's own sub-model trick, for benchmarks/submodel_reuse.py: on each of Sonar's 10 CV
# training sets, one binomial path over the same 20 lambdas (alpha 0.5) against 20 separate
# single-lambda fits. Prints the median (over repeats) seconds of each and their ratio.
# Debian packages: r-cran-glmnet r-cran-mlbench r-cran-caret
# Run: Rscript benchmarks/reference/glmnet_path.R [REPEATS]
suppressMessages({library(mlbench); library(glmnet); library(caret)})
args <- commandArgs(trailingOnly = TRUE)
repeats <- if (length(args)) as.integer(args[[1]]) else 7
data(Sonar)
x <- as.matrix(Sonar[, 1:60]); y <- Sonar$Class
set.seed(1); folds <- createFolds(y, k = 10, returnTrain = TRUE)
lam <- exp(seq(log(0.3), log(0.001), length.out = 20))
path <- function() for (f in folds) glmnet(x[f, ], y[f], family = "binomial", alpha = 0.5, lambda = lam)
separate <- function() for (f in folds) for (l in lam)
  glmnet(x[f, ], y[f], family = "binomial", alpha = 0.5, lambda = l)
med <- function(fn) median(sapply(seq_len(repeats), function(i) system.time(fn())[["elapsed"]]))
a <- med(path); b <- med(separate)
cat(sprintf("R_GLMNET path %.4f separate %.4f ratio %.2f\n", a, b, b / a))
