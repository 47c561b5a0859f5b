"""HPO methods: the scheduler/searcher interface, one module per method, and the registry of short names."""
