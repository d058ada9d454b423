"""Column names recognised in repeated-sampling data (one list, shared by every loader)."""

from __future__ import annotations

#: schema name -> source column names tried in order (case-insensitive, first present wins)
ATTEMPT_ALIASES: dict[str, tuple[str, ...]] = {
    "item": ("item", "item_id", "problem", "problem_id", "problem_idx", "task_id", "question_id",
             "prompt_id", "behavior_id", "doc_id", "sample_id", "id", "i"),
    "attempt": ("attempt", "attempt_idx", "attempt_index", "attempt_id", "sample_idx",
                "sample_index", "sample_id", "sample", "trial"),
    "success": ("success", "successful", "passed", "is_correct", "flagged", "jailbroken",
                "solved"),
    "n": ("n", "n_samples", "num_samples", "samples", "attempts", "n_attempts", "num_attempts",
          "trials", "n_trials"),
    "k": ("k", "c", "n_correct", "num_correct", "successes", "n_successes", "num_successes",
          "n_success"),
}
