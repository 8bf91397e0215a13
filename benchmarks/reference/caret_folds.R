# Writes caret's exact Sonar partition (seed 998) and its 10x10 repeated-CV fold indices
# (seed 825, as train() draws them) so leanfit can be scored on identical resamples.
# Run: Rscript benchmarks/reference/caret_folds.R > benchmarks/reference/caret_sonar_folds.json
suppressMessages({library(mlbench); library(caret)})
data(Sonar)
set.seed(998)
inTraining <- createDataPartition(Sonar$Class, p = .75, list = FALSE)
training <- Sonar[inTraining, ]
set.seed(825)
fit <- train(Class ~ ., data = training, method = "gbm", verbose = FALSE,
             trControl = trainControl(method = "repeatedcv", number = 10, repeats = 10),
             tuneGrid = data.frame(interaction.depth = 1, n.trees = 1, shrinkage = .1,
                                   n.minobsinnode = 20))
idx <- fit$control$index
js <- function(v) paste0("[", paste(v - 1, collapse = ","), "]")   # 0-based row positions
cat("{\"train_rows\": ", js(as.vector(inTraining)), ",\n \"names\": [",
    paste0("\"", names(idx), "\"", collapse = ","), "],\n \"index\": [",
    paste(sapply(idx, js), collapse = ",\n"), "]}\n", sep = "")
