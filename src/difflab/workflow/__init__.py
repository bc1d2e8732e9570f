"""What `make run` does around DVC: the profile's expected cost before it starts, each stage's wall time after."""
