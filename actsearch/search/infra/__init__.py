"""Infrastructure: starting or joining Ray (``cluster``, ``join``: auth named), the embedded node's
record and clean-up (``node``), and a user's task code to Ray workers, sized first (``shipping``,
``package``)."""
