"""Model parts shared by the agents: networks (MLPs, critic ensembles, actors) and samplers."""
