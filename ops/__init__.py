"""What wires the apps together and stands above all of them: the nightly
chain (nightly.py, run by Celery beat and ``manage.py nightly``), the demo
(demo.py, ``manage.py demo``) and the broker check."""
