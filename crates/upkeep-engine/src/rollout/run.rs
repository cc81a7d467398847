//! One attempt of a rollout step (`docs/rollouts.md`): a command run with the step's
//! environment ([`crate::shell`]), or a signed webhook posted with an `Idempotency-Key`
//! ([`Senders::post_signed`]). Nothing here touches the store: the driver stores the attempt
//! before calling [`run_step`] and its outcome after.
//!
//! The detail kept with an outcome is what the action said about itself (the tail of its
//! output, the receiver's answer), never the environment or the webhook's secret.

use upkeep_domain::maintenance::preflight::CommandExit;
use upkeep_domain::rollout::{Outcome, StepContext, StepRun, StepSpec};

use crate::notify::send::{PostFailure, Senders, SignedPost};

/// How much of a command's output (of each stream) is kept as the attempt's detail.
pub const DETAIL_BYTES: usize = 4096;

/// How an attempt ended and what it said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ran {
    pub outcome: Outcome,
    /// A few lines for operators: the exit status and the tail of the output, or the answer.
    pub detail: String,
}

/// Runs one attempt of `step` for `ctx`; `http` posts webhooks, `now_unix` is their
/// signature's timestamp.
pub async fn run_step(step: &StepSpec, ctx: &StepContext, http: &Senders, now_unix: i64) -> Ran {
    match &step.run {
        StepRun::Command(command) => run_command(command, step, ctx).await,
        StepRun::Webhook { url, secret } => {
            let body = ctx.webhook_body().to_string();
            let headers = [("Idempotency-Key", ctx.idempotency_key.as_str())];
            let post = SignedPost {
                url,
                body: &body,
                secret,
                headers: &headers,
                timeout: step.timeout(),
            };
            match http.post_signed(&post, now_unix).await {
                Ok(()) => Ran {
                    outcome: Outcome::Succeeded,
                    detail: "answered 2xx".into(),
                },
                Err(PostFailure::TimedOut(detail)) => Ran {
                    outcome: Outcome::TimedOut,
                    detail,
                },
                Err(PostFailure::Failed(detail)) => Ran {
                    outcome: Outcome::Failed,
                    detail,
                },
            }
        }
    }
}

async fn run_command(command: &str, step: &StepSpec, ctx: &StepContext) -> Ran {
    let done = crate::shell::run(command, &ctx.environment(), step.timeout(), DETAIL_BYTES).await;
    let output = |prefix: String, text: &str| {
        let text = text.trim();
        if text.is_empty() {
            prefix
        } else {
            last_bytes(&format!("{prefix}: {text}"), DETAIL_BYTES)
        }
    };
    match done.exit {
        CommandExit::Exited(Some(0)) => Ran {
            outcome: Outcome::Succeeded,
            detail: output("exit status 0".into(), &done.stdout),
        },
        CommandExit::Exited(Some(code)) => Ran {
            outcome: Outcome::Failed,
            detail: output(format!("exit status {code}"), &done.stderr),
        },
        CommandExit::Exited(None) => Ran {
            outcome: Outcome::Failed,
            detail: output("killed by a signal".into(), &done.stderr),
        },
        CommandExit::TimedOut(after) => Ran {
            outcome: Outcome::TimedOut,
            detail: output(
                format!(
                    "killed after its timeout of {}",
                    upkeep_domain::duration::format_duration(after)
                ),
                &done.stderr,
            ),
        },
        CommandExit::NotStarted(why) => Ran {
            outcome: Outcome::Failed,
            detail: format!("could not start: {why}"),
        },
    }
}

/// The last `max` bytes of `text`, cut at a character boundary.
fn last_bytes(text: &str, max: usize) -> String {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_owned()
}
