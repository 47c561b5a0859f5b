"""Running experiments: the tuner loop, simulator and local backends, the Hydra sweep app and launchers."""
