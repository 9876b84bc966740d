"""Play page logic: game rules and state, regions, the leaderboard."""
