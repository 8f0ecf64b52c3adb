"""Studies on top of the evaluation engine: proxy calibration (`nas-calibrate`) and
comparisons with error bars (`nas-compare`). Reports only: the training is `nas.evaluate`'s."""
