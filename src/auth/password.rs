//! bcrypt hashing on a dedicated, bounded thread pool (SPEC §8), and the policy a new
//! password must meet ([`check_new_password`]: length, and a zxcvbn score of at least
//! `password.min_score`), run on the same pool ([`PasswordHasher::check_new`]).
//!
//! Hand-written because no well-kept crate offers a fixed-size pool with a bounded queue that
//! refuses work when full: actix's `web::block` pool grows to hundreds of threads, and a login
//! flood would then run hundreds of bcrypt computations at once and starve every other request.
//!
//! The pool keeps one thread per core (fewer could not reach the machine's logins/s), and each
//! thread runs at the lowest OS priority (nice 19, see [`lower_priority`]): when a login flood
//! and cheap requests compete for the cores, the scheduler hands them to the async workers first,
//! and bcrypt gets whatever is left.

use std::sync::Arc;
use std::sync::mpsc::{self, SyncSender, TrySendError};

use arc_swap::ArcSwap;

use crate::domain::{MAX_PASSWORD_BYTES, Password, PasswordPolicy, random_token};
use crate::error::Failure;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Why a hashing job did not produce an answer.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The queue is full: answer 503 with `Retry-After`.
    #[error("the password hashing queue is full")]
    Busy,
    #[error("password hashing failed: {0}")]
    Failed(String),
}

impl From<HashError> for Failure {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy => Self::Busy,
            other => Self::Unexpected(other.into()),
        }
    }
}

/// A handle to the hashing pool; cheap to clone.
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

struct Inner {
    queue: SyncSender<Job>,
    /// `password.bcrypt_cost` in force, with its dummy hash: replaced together by
    /// [`PasswordHasher::set_cost`] (a configuration reload).
    cost: ArcSwap<Cost>,
}

/// A bcrypt cost and the dummy hash made at it.
pub struct Cost {
    cost: u32,
    /// Hash of a random password at `cost`: unknown users are checked against it so that
    /// their timing matches a wrong password.
    dummy_hash: String,
}

impl Cost {
    /// `cost` with a fresh dummy hash: one bcrypt computation at that cost, on the calling
    /// thread (start-up, or a blocking thread of a reload; never an async worker).
    pub fn new(cost: u32) -> Result<Self, HashError> {
        let random = random_token(24);
        let dummy_hash = hash_blocking(&Password::new(random), cost)?;
        Ok(Self { cost, dummy_hash })
    }

    pub fn cost(&self) -> u32 {
        self.cost
    }
}

impl PasswordHasher {
    /// Starts `threads` hashing threads with room for `queue` waiting jobs.
    pub fn start(cost: u32, threads: usize, queue: usize) -> Result<Self, HashError> {
        let (tx, rx) = mpsc::sync_channel::<Job>(queue.max(1));
        let rx = Arc::new(std::sync::Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("bcrypt-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        // The lock is held only while taking the next job.
                        let job = match rx.lock() {
                            Ok(guard) => guard.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return, // every sender dropped: shut down
                        }
                    }
                })
                .map_err(|e| HashError::Failed(format!("cannot start hashing thread: {e}")))?;
        }
        Ok(Self {
            inner: Arc::new(Inner {
                queue: tx,
                cost: ArcSwap::from_pointee(Cost::new(cost)?),
            }),
        })
    }

    /// Starts the pool of `password.*`: `hash_threads` (default one per core) with room for
    /// `hash_queue` waiting jobs (default 32 per thread).
    pub fn from_settings(settings: &crate::config::PasswordSettings) -> Result<Self, HashError> {
        let threads = settings
            .hash_threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let queue = settings.hash_queue.unwrap_or(threads * 32);
        Self::start(settings.bcrypt_cost, threads, queue)
    }

    /// The bcrypt cost in force.
    pub fn cost(&self) -> u32 {
        self.inner.cost.load().cost
    }

    /// Puts another cost in force for the hashes, checks and padding that start from now on
    /// (see [`Cost::new`] for making one).
    pub fn set_cost(&self, cost: Cost) {
        self.inner.cost.store(Arc::new(cost));
    }

    /// Queues `work` at once, or answers `Busy` when the queue is full.
    fn enqueue<T, F>(
        &self,
        work: F,
    ) -> Result<tokio::sync::oneshot::Receiver<Result<T, HashError>>, HashError>
    where
        F: FnOnce() -> Result<T, HashError> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(work());
        });
        match self.inner.queue.try_send(job) {
            Ok(()) => Ok(rx),
            Err(TrySendError::Full(_)) => Err(HashError::Busy),
            Err(TrySendError::Disconnected(_)) => {
                Err(HashError::Failed("hashing pool stopped".into()))
            }
        }
    }

    async fn submit<T, F>(&self, work: F) -> Result<T, HashError>
    where
        F: FnOnce() -> Result<T, HashError> + Send + 'static,
        T: Send + 'static,
    {
        self.enqueue(work)?
            .await
            .map_err(|_| HashError::Failed("hashing job dropped".into()))?
    }

    /// Hashes a password at the configured cost.
    pub async fn hash(&self, password: Password) -> Result<String, HashError> {
        let cost = self.cost();
        self.submit(move || hash_blocking(&password, cost)).await
    }

    /// Verifies `password` against `hash`, or against the dummy hash when there is no user, so
    /// that both take the same time. Passwords longer than bcrypt's 72 bytes never match.
    pub async fn verify(
        &self,
        password: Password,
        hash: Option<String>,
    ) -> Result<bool, HashError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.inner.cost.load().dummy_hash.clone());
        let matched = self
            .submit(move || {
                let too_long = password.expose().len() > MAX_PASSWORD_BYTES;
                // Run bcrypt even for a too-long password, on its first 72 bytes, so the
                // answer takes the usual time; the result is discarded below.
                let candidate = truncate_to_char_boundary(password.expose(), MAX_PASSWORD_BYTES);
                let ok = bcrypt::verify(candidate, &hash).unwrap_or(false);
                Ok(ok && !too_long)
            })
            .await?;
        Ok(known && matched)
    }

    /// Checks a new password against `policy` ([`check_new_password`]) on the hashing pool.
    ///
    /// Why off the async workers: zxcvbn matches every substring against its dictionaries.
    /// Measured on this machine in a test build (`cargo test --lib strength_check_cost --
    /// --nocapture`; dependencies at opt-level 1): the first call of a process ~40 ms (it
    /// builds the dictionaries), then 1–2 ms for a 12–28 character password and ~150 ms for
    /// 72 bytes of varied symbols, the worst case, since longer input is refused first. Any
    /// of these would stall every other request of an async worker. The bcrypt pool is where
    /// it belongs: it is the same order of cost as the hash that follows (cost 12 ≈ 236 ms),
    /// and its bounded queue answers `Busy` (503) under a flood.
    pub async fn check_new(
        &self,
        password: &Password,
        policy: PasswordPolicy,
        user_inputs: Vec<String>,
    ) -> Result<Result<(), Refusal>, HashError> {
        let password = password.clone();
        self.submit(move || {
            let inputs: Vec<&str> = user_inputs.iter().map(String::as_str).collect();
            Ok(check_new_password(&password, policy, &inputs))
        })
        .await
    }

    /// Whether a stored hash should be upgraded: only upward, to the configured cost (a
    /// lower setting never weakens a stored hash).
    pub fn needs_rehash(&self, hash: &str) -> bool {
        cost_of(hash).is_some_and(|cost| cost < self.cost())
    }

    /// Whether a failed check of `hash` cost less than one hash at the configured cost, so
    /// that it must be padded to look like an unknown user's (SPEC §8).
    pub fn cheaper_than_configured(&self, hash: &str) -> bool {
        cost_of(hash).is_none_or(|cost| cost < self.cost())
    }

    /// Checks `password` against the dummy hash at the configured cost, and forgets the
    /// answer: the time of one configured-cost check.
    pub async fn pad(&self, password: Password) -> Result<(), HashError> {
        self.verify(password, None).await.map(|_| ())
    }
}

/// Lowers the calling thread to nice 19, the lowest scheduling priority.
///
/// Why: with a hashing thread per core, a login flood keeps every core busy for 59 ms (cost 10)
/// per hash; at equal priority the async workers then wait for the CPU like any bcrypt thread, and
/// a cheap request's latency grows with the flood. At nice 19 against the workers' nice 0, the
/// kernel gives the workers about 98 % of a contended core, while bcrypt still gets every idle
/// cycle, so logins/s on an otherwise idle machine does not change.
///
/// On Linux, `setpriority(PRIO_PROCESS, tid)` sets the nice value of that one thread (threads are
/// tasks with their own nice), not of the process. Elsewhere this does nothing. A failure is
/// logged and hashing goes on at normal priority: slower cheap requests under a flood, never a
/// refused login.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        const LOWEST: i32 = 19;
        let tid = rustix::thread::gettid();
        if let Err(e) = rustix::process::setpriority_process(Some(tid), LOWEST) {
            tracing::warn!(
                error = %e,
                "cannot lower the priority of a password hashing thread; \
                 a login flood may slow other requests"
            );
        }
    }
}

/// The cost of a bcrypt hash, when it is one.
pub fn cost_of(hash: &str) -> Option<u32> {
    hash.parse::<bcrypt::HashParts>()
        .ok()
        .map(|parts| parts.get_cost())
}

fn truncate_to_char_boundary(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Why a new password was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// It breaks the form rules (length, NUL): every reason, ready to show.
    Invalid(Vec<String>),
    /// It is too easy to guess: zxcvbn's score is below `password.min_score`.
    Guessable(StrengthFeedback),
}

impl Refusal {
    /// Every reason in sentences, for a form or a one-line error.
    pub fn messages(&self) -> Vec<String> {
        match self {
            Self::Invalid(problems) => problems.clone(),
            Self::Guessable(feedback) => feedback.messages(),
        }
    }
}

/// zxcvbn's verdict on a password that is too easy to guess, in English: shown on the form and
/// in the 422 JSON answer (`feedback`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StrengthFeedback {
    /// zxcvbn's score, 0 (guessed in a thousand tries) to 4.
    #[serde(skip)]
    pub score: u8,
    /// `password.min_score` in force.
    #[serde(skip)]
    pub min_score: u8,
    /// What is wrong, e.g. "This is similar to a commonly used password." (not always known).
    pub warning: Option<String>,
    /// What to do instead, e.g. "Add another word or two. Uncommon words are better."
    pub suggestions: Vec<String>,
}

impl StrengthFeedback {
    /// The one sentence that says why.
    pub fn summary(&self) -> String {
        format!(
            "This password is too easy to guess (strength {} of 4; at least {} is needed).",
            self.score, self.min_score
        )
    }

    /// The summary, the warning and the suggestions, each a sentence.
    pub fn messages(&self) -> Vec<String> {
        let mut out = vec![self.summary()];
        out.extend(self.warning.iter().cloned());
        out.extend(self.suggestions.iter().cloned());
        out
    }
}

/// The words zxcvbn is told a guesser would try first besides its dictionaries: the product's
/// name, the username and its parts (`alice.smith@example.com` → `alice`, `smith`, …).
pub fn user_inputs(username: &str) -> Vec<String> {
    let mut inputs = vec!["gatehouse".to_string(), username.to_string()];
    inputs.extend(
        username
            .split(|c: char| !c.is_alphanumeric())
            .filter(|part| part.chars().count() >= 3)
            .map(str::to_string),
    );
    inputs.dedup();
    inputs
}

/// Checks a new password (SPEC §8, `password.min_length`, `password.min_score`): the form
/// rules of [`Password::check_policy`] first, then, when those hold, zxcvbn's score with
/// `user_inputs` (see [`user_inputs`]) as extra dictionary words. Never panics, whatever the
/// text (a property test checks it). zxcvbn (the Rust port of Dropbox's estimator) rather
/// than rules of our own: it knows common passwords, names, keyboard patterns, dates and
/// l33t substitutions, and says what is wrong in words.
pub fn check_new_password(
    password: &Password,
    policy: PasswordPolicy,
    user_inputs: &[&str],
) -> Result<(), Refusal> {
    password
        .check_policy(policy.min_length)
        .map_err(Refusal::Invalid)?;
    if policy.min_score == 0 {
        return Ok(());
    }
    let entropy = zxcvbn::zxcvbn(password.expose(), user_inputs);
    let score = u8::from(entropy.score());
    if score >= policy.min_score {
        return Ok(());
    }
    let (warning, mut suggestions) = entropy.feedback().map_or((None, Vec::new()), |f| {
        (
            f.warning().map(|w| w.to_string()),
            f.suggestions().iter().map(ToString::to_string).collect(),
        )
    });
    if suggestions.is_empty() {
        // zxcvbn gives advice only below score 3; `password.min_score = 4` needs some too.
        suggestions.push("Add another word or two. Uncommon words are better.".to_string());
    }
    Err(Refusal::Guessable(StrengthFeedback {
        score,
        min_score: policy.min_score,
        warning,
        suggestions,
    }))
}

/// Hashes on the calling thread: for the CLI and start-up, never for request handlers.
pub fn hash_blocking(password: &Password, cost: u32) -> Result<String, HashError> {
    if password.expose().len() > MAX_PASSWORD_BYTES {
        return Err(HashError::Failed(format!(
            "password longer than {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    bcrypt::hash(password.expose(), cost).map_err(|e| HashError::Failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn verify_accepts_the_password_and_rejects_others() {
        let hasher = PasswordHasher::start(4, 1, 4).unwrap();
        let hash = hasher
            .hash(Password::new("correct horse".into()))
            .await
            .unwrap();
        assert!(
            hasher
                .verify(Password::new("correct horse".into()), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(Password::new("wrong horse".into()), Some(hash))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(Password::new("correct horse".into()), None)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn bytes_past_72_do_not_match_a_72_byte_password() {
        let hasher = PasswordHasher::start(4, 1, 4).unwrap();
        let base = "a".repeat(72);
        let hash = hasher.hash(Password::new(base.clone())).await.unwrap();
        assert!(
            !hasher
                .verify(Password::new(format!("{base}SUFFIX")), Some(hash))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_full_queue_answers_busy() {
        // One thread, room for one waiting job.
        let hasher = PasswordHasher::start(4, 1, 1).unwrap();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let running = hasher
            .enqueue(move || {
                started_tx.send(()).ok();
                release_rx.recv().ok();
                Ok(())
            })
            .unwrap();
        started_rx.await.unwrap(); // the thread is busy with the first job
        let waiting = hasher.enqueue(|| Ok(())).unwrap(); // fills the queue
        assert!(matches!(hasher.enqueue(|| Ok(())), Err(HashError::Busy)));
        release_tx.send(()).unwrap();
        assert!(running.await.unwrap().is_ok());
        assert!(waiting.await.unwrap().is_ok());
    }

    /// The nice value (field 19 of `/proc/<task>/stat`) of a task under `/proc`.
    #[cfg(target_os = "linux")]
    fn nice_of(task: &str) -> i32 {
        let stat = std::fs::read_to_string(format!("/proc/{task}/stat")).unwrap();
        // Fields follow the command name, which is in parentheses and may hold spaces; the
        // first after it is field 3 (state), so field 19 is the 17th.
        let (_, fields) = stat.rsplit_once(')').unwrap();
        fields.split_whitespace().nth(16).unwrap().parse().unwrap()
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_threads_run_at_nice_19_and_leave_the_caller_alone() {
        let caller_before = nice_of("thread-self");
        let hasher = PasswordHasher::start(4, 1, 1).unwrap();
        // The job names the OS thread that ran it: other tests start pools with a `bcrypt-0`
        // of their own, so a search by name could find one of theirs.
        let tid = hasher
            .submit(|| Ok(rustix::thread::gettid().as_raw_nonzero().get()))
            .await
            .unwrap();
        let task = format!("self/task/{tid}");
        let comm = std::fs::read_to_string(format!("/proc/{task}/comm")).unwrap();
        assert_eq!(comm.trim_end(), "bcrypt-0");
        assert_eq!(nice_of(&task), 19);
        assert_eq!(
            nice_of("thread-self"),
            caller_before,
            "the caller keeps its priority"
        );
    }

    const DEFAULT_POLICY: PasswordPolicy = PasswordPolicy {
        min_length: 10,
        min_score: 3,
    };

    #[test]
    fn a_common_pattern_is_refused_with_feedback_at_the_default_score() {
        let refused = check_new_password(
            &Password::new("Password1234".into()),
            DEFAULT_POLICY,
            &["alice"],
        )
        .unwrap_err();
        let Refusal::Guessable(feedback) = refused else {
            panic!("{refused:?}")
        };
        assert!(feedback.score < 3);
        assert!(feedback.warning.is_some() || !feedback.suggestions.is_empty());
        assert!(feedback.summary().contains("too easy to guess"));
        // The same password passes when the score is not required.
        let open = PasswordPolicy {
            min_score: 0,
            ..DEFAULT_POLICY
        };
        assert!(check_new_password(&Password::new("Password1234".into()), open, &[]).is_ok());
        // A long random-looking one passes.
        assert!(
            check_new_password(
                &Password::new("violet-ferry-57-quartz-bloom".into()),
                DEFAULT_POLICY,
                &[]
            )
            .is_ok()
        );
    }

    #[test]
    fn the_username_counts_as_a_guess() {
        let password = Password::new("zebulon.harkness2".into());
        let inputs = user_inputs("zebulon.harkness");
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        assert!(matches!(
            check_new_password(&password, DEFAULT_POLICY, &inputs),
            Err(Refusal::Guessable(_))
        ));
        assert!(check_new_password(&password, DEFAULT_POLICY, &[]).is_ok());
    }

    #[test]
    fn length_rules_come_first() {
        assert!(matches!(
            check_new_password(&Password::new("short".into()), DEFAULT_POLICY, &[]),
            Err(Refusal::Invalid(_))
        ));
    }

    /// Prints what a check costs (`-- --nocapture`), the figures behind
    /// [`PasswordHasher::check_new`]'s choice of thread; the longest, most varied input is
    /// accepted.
    #[test]
    fn strength_check_cost() {
        let long: String = (0..72u32)
            .map(|i| char::from(b'!' + u8::try_from(i * 7 % 90).unwrap()))
            .collect();
        // The first call builds zxcvbn's dictionaries (once per process).
        let started = std::time::Instant::now();
        let _ = check_new_password(&Password::new("warm-up-once".into()), DEFAULT_POLICY, &[]);
        println!("first call: {:?}", started.elapsed());
        for (text, accepted) in [
            ("Password1234", false),
            ("violet-ferry-57-quartz-bloom", true),
            (long.as_str(), true),
        ] {
            let started = std::time::Instant::now();
            let verdict =
                check_new_password(&Password::new(text.into()), DEFAULT_POLICY, &["alice"]);
            println!("{} bytes: {:?}", text.len(), started.elapsed());
            assert_eq!(verdict.is_ok(), accepted, "{text}");
        }
    }

    proptest::proptest! {
        #[test]
        fn the_policy_never_panics(text in "\\PC{0,72}", name in "[a-z.@]{0,20}") {
            let text: String = truncate_to_char_boundary(&text, MAX_PASSWORD_BYTES).to_string();
            let inputs = user_inputs(&name);
            let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
            for min_score in 0..=4 {
                let policy = PasswordPolicy { min_length: 0, min_score };
                let _ = check_new_password(&Password::new(text.clone()), policy, &inputs);
            }
        }

        #[test]
        fn the_policy_never_panics_on_any_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..=72)) {
            let text = String::from_utf8_lossy(&bytes);
            let text = truncate_to_char_boundary(&text, MAX_PASSWORD_BYTES).to_string();
            let _ = check_new_password(&Password::new(text), DEFAULT_POLICY, &["gatehouse"]);
        }
    }

    #[test]
    fn rehash_is_needed_for_another_cost() {
        let hasher = PasswordHasher::start(5, 1, 1).unwrap();
        let old = hash_blocking(&Password::new("x".repeat(12)), 4).unwrap();
        assert!(hasher.needs_rehash(&old));
        let same = hash_blocking(&Password::new("x".repeat(12)), 5).unwrap();
        assert!(!hasher.needs_rehash(&same));
        let stronger = hash_blocking(&Password::new("x".repeat(12)), 6).unwrap();
        assert!(!hasher.needs_rehash(&stronger), "never downgraded");
    }
}
