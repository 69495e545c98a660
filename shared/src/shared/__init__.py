"""The MASH platform library shared by the four services."""
