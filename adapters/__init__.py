"""Protocol adapters: one package per protocol, each turning device reads into sample batches."""
