# caret's side of benchmarks/library_vs_caret.py: glmnet, pls, knn, lda, rf on Sonar (Accuracy)
# and BostonHousing (RMSE), and all but rf on Glass (6 classes: glmnet's multinomial family),
# each with caret's default grid (tuneLength = 3) on the SAME 10-fold CV indices, which are
# written out so leanfit can use them. Times: median of REPEATS runs (default 5).
# Debian packages: r-cran-caret r-cran-mlbench r-cran-glmnet r-cran-pls r-cran-randomforest
# Run: Rscript benchmarks/reference/caret_library.R OUT.json [REPEATS]
suppressMessages({library(mlbench); library(caret)})
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args)) args[[1]] else "caret_library.json"
repeats <- if (length(args) > 1) as.integer(args[[2]]) else 5
data(Sonar); data(BostonHousing); data(Glass)
sets <- list(sonar = list(form = Class ~ ., data = Sonar, y = Sonar$Class),
             bostonhousing = list(form = medv ~ ., data = BostonHousing, y = BostonHousing$medv),
             glass = list(form = Type ~ ., data = Glass, y = Glass$Type))
methods <- c("glmnet", "pls", "knn", "lda", "rf")
js <- function(v) paste0("[", paste(v, collapse = ","), "]")
q <- function(s) paste0("\"", s, "\"")
parts <- c()
for (name in names(sets)) {
  s <- sets[[name]]
  set.seed(42)
  index <- createFolds(s$y, k = 10, returnTrain = TRUE)
  ctrl <- trainControl(method = "cv", index = index)
  fits <- c()
  for (m in methods) {
    if (m == "lda" && name == "bostonhousing") next
    if (m == "rf" && name == "glass") next
    times <- c()
    for (r in seq_len(repeats)) {  # the first run also loads the method's package
      set.seed(1)
      t0 <- proc.time()[["elapsed"]]
      fit <- train(s$form, data = s$data, method = m, trControl = ctrl, tuneLength = 3)
      times <- c(times, proc.time()[["elapsed"]] - t0)
    }
    el <- median(times)
    metric <- fit$metric
    best <- fit$results[rownames(fit$bestTune), metric]
    val <- function(v) if (is.numeric(v)) format(v, digits = 10) else q(as.character(v))
    bt <- paste(sprintf("%s: %s", q(names(fit$bestTune)), sapply(fit$bestTune, val)),
                collapse = ", ")
    fits <- c(fits, sprintf("%s: {\"seconds\": %.3f, \"metric\": %s, \"value\": %.10f, \"best\": {%s}}",
                            q(m), el, q(metric), best, bt))
    cat(sprintf("TIME %s %s %.3f  %s %.6f\n", name, m, el, metric, best))
  }
  idx <- paste(sapply(index, function(v) js(v - 1)), collapse = ",")
  parts <- c(parts, sprintf("%s: {\"index\": [%s], \"fits\": {%s}}", q(name), idx,
                            paste(fits, collapse = ", ")))
}
writeLines(paste0("{", paste(parts, collapse = ",\n"), "}"), out)
