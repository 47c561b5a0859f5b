"""Named tuning problems: a blackbox (or training script), a metric and its direction, a budget, workers."""
