"""imr-rules: an auditable MTUS medical-necessity decision engine for California IMR."""

__version__ = "0.1.0"
