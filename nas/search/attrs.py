"""Names of what a search stores on each Optuna trial (user attributes) and on the study.

Everything a report needs is on the trial, so `trials.csv` can be rebuilt from the storage
alone (and `optuna-dashboard` shows the same numbers).
"""

ARCH_ID = "arch_id"
SPEC = "spec"  # ArchSpec.to_dict() at the target resolution
SUMMARY = "summary"  # ArchSpec.summary()
FLOPS = "flops"  # fvcore, per image, at the target resolution
PARAMS = "params"
CLOSED_FORM = "closed_form"  # [FLOPs, params] by nas.cost.closed_form: must equal fvcore's
LATENCY_MS = "latency_ms"
COSTS = "costs"  # values of the cost objectives, in objective order (for early stopping)
FEASIBLE = "feasible"
TRAINED = "trained"  # proxy training started (False: over budget, a duplicate, or only scored
#                       by a pre-screen)
DUPLICATE_OF = "duplicate_of"  # number of the earlier trial whose result was reused
PHASE = "phase"  # measuring | training | done
CURVE = "curve"  # proxy validation accuracy after each epoch (first seed: early stopping
#                   compares like with like)
PROXY_ACCURACY = "proxy_accuracy"  # the mean over the trial's seeds
SEED_ACCURACIES = "seed_accuracies"  # final accuracy of each seed run, first seed first
PROXY_STD = "proxy_accuracy_std"  # std over the seeds (ddof 1); None with one seed
PROXY_SECONDS = "proxy_seconds"
PROXY_RESOLUTION = "proxy_resolution"
IMAGES_PER_S = "images_per_s"
FAILURE = "failure"  # why a trial failed (NaN loss, out of memory, an exception)
FAILURE_KIND = "failure_kind"  # transient (tried again on resume) or deterministic
WORKER = "worker"  # host:pid of the process that ran it
PRESCREEN_SCORE = "prescreen_score"  # --prescreen's score of the architecture (higher = better)
PRESCREEN_FOR = "prescreen_for"  # on a drawn candidate: the trial of its draw (trained the pick)
PRESCREEN_SECONDS = "prescreen_seconds"  # on a scored candidate: what taking its score took

# All of the above that a trial sets; a retried trial starts from a copy of the failed one's.
TRIAL_ATTRS = (
    ARCH_ID,
    SPEC,
    SUMMARY,
    FLOPS,
    PARAMS,
    CLOSED_FORM,
    LATENCY_MS,
    COSTS,
    FEASIBLE,
    TRAINED,
    DUPLICATE_OF,
    PHASE,
    CURVE,
    PROXY_ACCURACY,
    SEED_ACCURACIES,
    PROXY_STD,
    PROXY_SECONDS,
    PROXY_RESOLUTION,
    IMAGES_PER_S,
    FAILURE,
    FAILURE_KIND,
    WORKER,
    PRESCREEN_SCORE,
    PRESCREEN_FOR,
    PRESCREEN_SECONDS,
)

STUDY_CONFIG = "nas:fingerprint"  # study user attr: SearchConfig.fingerprint() at creation
