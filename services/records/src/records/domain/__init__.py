"""Records' pure rules: the hash chain and what retention erases."""
