"""The names in a run folder (--model_dir), and the exported model's layer its readers rely on."""

CONFIG = "config.json"  # the run's record: flags, what they resolved to, the dataset (run_folder.record)
RESULTS = "results.json"  # written last: the run is finished
HISTORY = "history.csv"  # one row per finished epoch, epochs counted from 1
BEST_MODEL = "best.keras"  # the epoch with the best validation weighted F1
FINAL_MODEL = "model.keras"
SAVED_MODEL = "saved_model"
BACKUP_DIR = "backup"  # the finished epochs' weights and optimizer state (trainer/checkpoints.py)
STATE = "state.json"  # in BACKUP_DIR: the commit record of the finished epochs
CALIBRATION = "calibration.json"  # tools.calibrate: the temperature and threshold chosen on the validation split
CALIBRATION_PICTURE = "calibration.png"  # its reliability diagram
LOGS_DIR = "logs"  # TensorBoard
PROFILE_DIR = ("logs", "train", "plugins", "profile")  # where TensorBoard's profiler writes, one folder per trace

# The exported models' global-average-pooled backbone output: a cell's embedding, which the
# neighbourhood correction compares (cnmc/evaluation/neighbours.py).
FEATURE_LAYER = "pool"

MODEL_FILES = (BEST_MODEL, FINAL_MODEL)  # what the tools load from a run folder, in order of preference
