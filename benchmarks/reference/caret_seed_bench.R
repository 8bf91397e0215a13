# A copy of shared/bench/caret_seed.R that also prints machine-readable RESULT lines.
# The seed's caret workflow on Sonar, timed step by step: the reference that leanfit is measured
# against, side by side on the same machine.
# Set up once (Debian packages):
#   apt-get update && apt-get install -y r-base-core r-cran-caret r-cran-gbm r-cran-mlbench \
#     r-cran-kernlab r-cran-glmnet r-cran-pls r-cran-proc r-cran-e1071
# Run:  Rscript benchmarks/reference/caret_seed_bench.R  (TIME and RESULT lines, caret tables)
# klaR (caret's "rda") is not packaged for Debian, so glmnet stands in for the seed's RDA model.
suppressMessages({library(mlbench); library(caret)})
data(Sonar)
tm <- function(label, expr) {
  t0 <- proc.time()[["elapsed"]]; v <- force(expr)
  cat(sprintf("TIME %s %.2f\n", label, proc.time()[["elapsed"]] - t0)); v
}
t_all <- proc.time()[["elapsed"]]
set.seed(998)
inTraining <- createDataPartition(Sonar$Class, p = .75, list = FALSE)
training <- Sonar[inTraining, ]; testing <- Sonar[-inTraining, ]
cat("TRAIN_ROWS", paste(as.vector(inTraining), collapse = ","), "\n")
fitControl <- trainControl(method = "repeatedcv", number = 10, repeats = 10)
set.seed(825)
gbmFit1 <- tm("gbmFit1", train(Class ~ ., data = training, method = "gbm", trControl = fitControl, verbose = FALSE))
print(gbmFit1)
gbmGrid <- expand.grid(interaction.depth = c(1, 5, 9), n.trees = (1:30) * 50, shrinkage = 0.1, n.minobsinnode = 20)
set.seed(825)
gbmFit2 <- tm("gbmFit2", train(Class ~ ., data = training, method = "gbm", trControl = fitControl,
                               verbose = FALSE, tuneGrid = gbmGrid))
print(gbmFit2$bestTune); print(max(gbmFit2$results$Accuracy))
fitControl <- trainControl(method = "repeatedcv", number = 10, repeats = 10,
                           classProbs = TRUE, summaryFunction = twoClassSummary)
set.seed(825)
gbmFit3 <- tm("gbmFit3", train(Class ~ ., data = training, method = "gbm", trControl = fitControl,
                               verbose = FALSE, tuneGrid = gbmGrid, metric = "ROC"))
print(gbmFit3$results[rownames(gbmFit3$bestTune), ])
whichTwoPct <- tolerance(gbmFit3$results, metric = "ROC", tol = 2, maximize = TRUE)
print(gbmFit3$results[whichTwoPct, 1:6])
set.seed(825)
svmFit <- tm("svmFit", train(Class ~ ., data = training, method = "svmRadial", trControl = fitControl,
                             preProc = c("center", "scale"), tuneLength = 8, metric = "ROC"))
print(svmFit)
set.seed(825)
glmnetFit <- tm("glmnetFit", train(Class ~ ., data = training, method = "glmnet", trControl = fitControl,
                                   preProc = c("center", "scale"), tuneLength = 4, metric = "ROC"))
resamps <- resamples(list(GBM = gbmFit3, SVM = svmFit, GLMNET = glmnetFit))
print(summary(resamps))
print(summary(diff(resamps)))
cat("RESULT gbmFit2_Accuracy", max(gbmFit2$results$Accuracy), "\n")
cat("RESULT gbmFit3_ROC", max(gbmFit3$results$ROC), "\n")
cat("RESULT svmFit_ROC", max(svmFit$results$ROC), "\n")
cat("RESULT glmnetFit_ROC", max(glmnetFit$results$ROC), "\n")
set.seed(825)
gbmFit4 <- tm("gbmFit4", train(Class ~ ., data = training, method = "gbm",
                               trControl = trainControl(method = "none", classProbs = TRUE), verbose = FALSE,
                               tuneGrid = data.frame(interaction.depth = 4, n.trees = 100, shrinkage = .1,
                                                     n.minobsinnode = 20), metric = "ROC"))
print(predict(gbmFit4, newdata = head(testing)))
print(predict(gbmFit4, newdata = head(testing), type = "prob"))
cat(sprintf("TIME total %.2f\n", proc.time()[["elapsed"]] - t_all))
