"""Data, devices, proxy training (search) and full training (DDP)."""
