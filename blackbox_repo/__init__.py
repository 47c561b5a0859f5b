"""What a benchmark is: search spaces, blackboxes, the on-disk repository, conversion and surrogates."""
