"""Jobs: the scheduler's table and the job bodies (plain async functions)."""
