"""The blameless-language corpus: sentences a postmortem might contain, each marked
whether it blames a person (True) or is a fair, systemic or neutral account (False).
Written for warroom's tests; the seed examples are paraphrased, not copied."""

from __future__ import annotations

BLAMING: list[str] = [
    # Seed 003/000 "before" examples, in our words.
    "The incident was caused by Engineer X deploying without proper testing.",
    "In the future, Engineer X needs to be more careful.",
    "If only Bob had checked the logs, we would have caught it.",
    "Alice deployed without testing the migration.",
    "Who approved this deploy?",
    "Why didn't you check the connection count?",
    # Human error as a cause.
    "Root cause: human error.",
    "The outage was the result of operator error during the failover.",
    "This was a simple human error on the release day.",
    "Ultimately it comes down to engineer error.",
    # A named person as the subject of a failure.
    "Dave forgot to renew the certificate.",
    "Sam failed to update the secret in the billing service.",
    "Kim broke the build right before the release.",
    "Priya ignored the disk space warning for two days.",
    "Marco skipped the canary stage to save time.",
    "@lee missed the alert because he was not paying attention.",
    "Tom neglected to run the migration in staging.",
    "Jordan messed up the DNS change.",
    "Nina overlooked the expiry date on the cert.",
    # Counterfactuals.
    "The on-call engineer should have escalated after ten minutes.",
    "We shouldn't have deployed on a Friday afternoon.",
    "Alex could have prevented this by reading the runbook.",
    "If only someone had looked at the dashboard earlier.",
    "The reviewer ought to have noticed the missing index.",
    # Judgement words.
    "The change was careless and rushed.",
    "Sloppy code review let the bug through.",
    "It was negligent to rotate the key without telling anyone.",
    "A lazy fix in the cache layer caused the stampede.",
    "This was a stupid mistake that anyone could see.",
    "The rollout was reckless.",
    # Who questions.
    "Who deployed the config change at 14:18?",
    "We need to find out who merged this.",
]

FAIR: list[str] = [
    # Seed 003/000 "after" examples, in our words.
    "The deploy pipeline has no canary analysis.",
    "The monitoring did not surface the relevant logs.",
    "The incident occurred because staging does not match the production schema.",
    "Any engineer making database changes faces this risk.",
    "What information did the responder have at decision time?",
    "What systemic factors allowed this to reach production?",
    "How can we detect this class of problem earlier?",
    "Sync the staging schema from production daily.",
    # Neutral accounts of what people did.
    "Dave rolled back the deploy at 14:32.",
    "Alice declared a SEV-2 and took the IC role.",
    "Carol joined the war room and identified connection pool exhaustion.",
    "Bob paged the database team at 14:12.",
    "Kim restarted the payment pods after the IC approved it.",
    "Sam posted the status page update at 14:30.",
    "@lee acknowledged the page within two minutes.",
    "Priya failed over to the secondary gateway endpoint.",
    # Forward-looking actions.
    "We should add a check that blocks deploys without a canary.",
    "We should alert on connection count, not only query time.",
    "The team will add contract tests for the payment gateway.",
    "Add disk usage alerts at 80% on every database host.",
    # Systemic statements.
    "The code review process has no reviewer with database expertise.",
    "Load tests in staging are capped at ten concurrent users.",
    "The new auth code opened a connection per request instead of using the pool.",
    "The certificate renewal job was not monitored, so its failure went unnoticed.",
    "The runbook did not mention the second region.",
    "The payment service crashed when the gateway returned an unexpected format.",
    "Human error is a symptom of the system, not a cause; we looked for the system.",
    "Monitoring missed the latency increase because the alert threshold was 10 seconds.",
    "Deploys happened during peak hours, which amplified the impact.",
    "The failover plan had never been tested in a drill.",
    "Nobody was paged because the schedule had a gap on Sunday.",
    "The secret was rotated centrally, but two services read a cached copy.",
]

# Written after the checker was tuned on the lists above and never tuned against: its
# figures here are the honest estimate (docs/postmortems.md reports both).
HELD_OUT_BLAMING: list[str] = [
    "Raj pushed the change without waiting for CI.",
    "Honestly, the operator error here was obvious.",
    "Emma should have known the flag was global.",
    "The intern was irresponsible with production access.",
    "Who signed off on this migration?",
    "Chen caused the outage by restarting the primary.",
    "Luis didn't test the rollback path.",
    "The whole thing happened because Ana was lazy about the checklist.",
]
HELD_OUT_FAIR: list[str] = [
    "Raj rolled the change forward once CI passed.",
    "The flag was global, and nothing in the UI said so.",
    "Production access had no second-person approval step.",
    "Chen restarted the primary, following the runbook's step 4.",
    "The rollback path had no automated test.",
    "The checklist was long and had no tool support.",
    "We will make the flag scope visible in the admin page.",
    "Error rates returned to normal at 15:05.",
]
