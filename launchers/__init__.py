"""hpo-arena package."""
