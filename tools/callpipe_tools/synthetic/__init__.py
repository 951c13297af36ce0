"""Synthetic data, two kinds: ``calls`` speaks scripted calls into WAV files (espeak-ng), for the
transcriber eval, demos and tests; ``analyses`` generates analysed-call records (the Avro shape of
``CallAnalyzed``), for seeding the warehouse in benchmarks and tests."""
