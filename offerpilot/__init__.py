"""offerpilot: which coupon to offer which customer, at what depth, within which budget, and why."""

__version__ = "0.1.0"
