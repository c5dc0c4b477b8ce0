"""What differs when several processes train one model: which worker this is (cluster), TensorFlow's
multi-worker engine with deadlines (multi_worker), the collectives fit() lacks (replicas), and the one
object the training loop asks about it (jobs): a single-process job or a multi-worker one."""
