"""A search's run directory: its spec and the checks that a resume continues the same search
(``spec``), the task's source hash (``source``), and running one spec into it (``run``)."""
