//! Pure work split over two threads when there is a lot of it and a second CPU to run it.
//!
//! Judging 10,000 sessions is a few milliseconds of independent heuristics after the last row
//! has arrived, and a table of them as much again, with the server idle and the machine's other
//! CPU free: on the critical path of `diagnose`, `check` and `sessions`. Below
//! [`WORTH_SPLITTING`] items a thread costs more than it saves, so small snapshots run on the
//! calling thread as before. Results never depend on the split: [`map`] and [`map_halves`] keep
//! the input order, [`join`] returns both results in place. A thread that cannot be started (a
//! process at its thread limit) only means the work runs in turn.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// Sessions (or table rows) from which the work is split over two threads.
pub const WORTH_SPLITTING: usize = 2_000;

/// Whether this process may run on more than one CPU (read once: it reads the cgroup quota).
fn second_cpu() -> bool {
    static CPUS: OnceLock<usize> = OnceLock::new();
    *CPUS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get())) > 1
}

/// `(a(), b())`, with `b` on a second thread when `split` and the machine has a second CPU.
pub fn join<RA, RB>(split: bool, a: impl FnOnce() -> RA, b: impl FnOnce() -> RB + Send) -> (RA, RB)
where
    RB: Send,
{
    if !split || !second_cpu() {
        return (a(), b());
    }
    // `b` is handed over through a slot so that it is still here when no thread starts.
    let slot = Mutex::new(Some(b));
    let take = || slot.lock().ok().and_then(|mut b| b.take());
    std::thread::scope(|s| {
        let helper = std::thread::Builder::new()
            .name("judge".into())
            .spawn_scoped(s, || take().map(|b| b()));
        let ra = a();
        let rb = match helper {
            Ok(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
            Err(_) => None,
        };
        // Not run by a helper (none started): run it here.
        let rb = rb.unwrap_or_else(|| take().expect("b runs exactly once")());
        (ra, rb)
    })
}

/// `items.iter().map(f)`, in order, shared between two threads when `split` (see [`join`]):
/// each takes the next item not yet taken, so one slow item does not leave a thread idle.
pub fn map<T: Sync, R: Send>(split: bool, items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    if !split || items.len() < 2 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else {
                return done;
            };
            done.push((i, f(item)));
        }
    };
    let (mut mine, theirs) = join(true, work, work);
    mine.extend(theirs);
    mine.sort_unstable_by_key(|(i, _)| *i);
    mine.into_iter().map(|(_, r)| r).collect()
}

/// `items.iter().map(f)` collected, the second half of the items on a helper thread when
/// `split` (see [`join`]): for many cheap items, such as the rows of a table of 10,000 sessions.
pub fn map_halves<'a, T: Sync, R: Send>(
    split: bool,
    items: &'a [T],
    f: impl Fn(&'a T) -> R + Sync,
) -> Vec<R> {
    let (first, second) = items.split_at(items.len() / 2);
    let (mut done, rest) = join(
        split,
        || {
            let mut v = Vec::with_capacity(items.len());
            v.extend(first.iter().map(&f));
            v
        },
        || second.iter().map(&f).collect::<Vec<R>>(),
    );
    done.extend(rest);
    done
}

/// Drop `value`, which holds `items` sessions (or rows), on a thread of its own from
/// [`WORTH_SPLITTING`] items on (and with a second CPU), and return at once. Freeing a snapshot
/// of 10,000 sessions and its report, their strings one by one, took 0.6-0.7 ms at the end of
/// `diagnose`, after the output was written: a command that ends next need not wait for it,
/// since the process's exit returns the memory whole (and stops a thread still freeing). A
/// caller that goes on gets the memory back a moment later. Smaller values, or no thread, are
/// dropped here.
pub fn drop_behind<T: Send + 'static>(items: usize, value: T) {
    if items >= WORTH_SPLITTING && second_cpu() {
        // A thread that cannot start drops the closure, and `value` with it, here.
        let _ = std::thread::Builder::new()
            .name("drop".into())
            .spawn(move || drop(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_keeps_the_order_whether_split_or_not() {
        let items: Vec<u64> = (0..500).collect();
        let square = |x: &u64| x * x;
        let expected: Vec<u64> = items.iter().map(square).collect();
        assert_eq!(map(true, &items, square), expected);
        assert_eq!(map(false, &items, square), expected);
        assert_eq!(map(true, &items[..1], square), vec![0]);
        assert!(map(true, &items[..0], square).is_empty());
    }

    #[test]
    fn map_halves_keeps_the_order_whether_split_or_not() {
        let items: Vec<u64> = (0..501).collect();
        let double = |x: &u64| x * 2;
        let expected: Vec<u64> = items.iter().map(double).collect();
        assert_eq!(map_halves(true, &items, double), expected);
        assert_eq!(map_halves(false, &items, double), expected);
        assert_eq!(map_halves(true, &items[..1], double), vec![0]);
        assert!(map_halves(true, &items[..0], double).is_empty());
    }

    #[test]
    fn join_returns_both_results_in_place() {
        let text = String::from("borrowed");
        assert_eq!(join(true, || 1, || text.len()), (1, 8));
        assert_eq!(join(false, || "a", || 2.5), ("a", 2.5));
    }

    #[test]
    fn a_value_dropped_behind_is_dropped_once_on_either_path() {
        struct Counted(std::sync::Arc<AtomicUsize>);
        impl Drop for Counted {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let drops = std::sync::Arc::new(AtomicUsize::new(0));
        drop_behind(WORTH_SPLITTING - 1, Counted(drops.clone()));
        assert_eq!(drops.load(Ordering::SeqCst), 1, "small: dropped in place");
        drop_behind(WORTH_SPLITTING, Counted(drops.clone()));
        let waited = std::time::Instant::now();
        while drops.load(Ordering::SeqCst) < 2 && waited.elapsed().as_secs() < 10 {
            std::thread::yield_now();
        }
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    }

    #[test]
    #[should_panic(expected = "a check failed")]
    fn a_panic_on_the_helper_reaches_the_caller() {
        join(true, || (), || panic!("a check failed"));
    }
}
