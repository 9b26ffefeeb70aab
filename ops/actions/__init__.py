"""Operator actions run as jobs: the runner (lifecycle), the sweeper (lost workers), the kinds."""
