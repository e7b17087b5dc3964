//! The replay of an incident folder: the `timeline` (one entry per sample) and the `growth`
//! (what grew before the trigger, since when, and who drove it). Pure: built from a
//! [`SampleHistory`] and the trigger time, rendered by [`crate::render::timeline`] and the chart.
//!
//! Cost: one pass over the samples, each with at most [`MAX_CLIENTS_PER_SAMPLE`] clients, through
//! one map of client names: never a loop over clients inside a loop over clients.
//!
//! [`MAX_CLIENTS_PER_SAMPLE`]: crate::snapshot::sample::MAX_CLIENTS_PER_SAMPLE

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::diagnose::forecast::{self, Forecast};

use crate::snapshot::sample::{ClientCount, Sample, SampleHistory};

/// Clients named in each `timeline` entry of the JSON; the rest are summed under `other`.
pub const TIMELINE_CLIENTS: usize = 10;
/// Growers listed in `growth.clients` and `growth.apps`.
pub const TOP_GROWERS: usize = 5;
/// A client drives the growth when it grew by at least this many connections...
pub const DRIVER_MIN_GROWTH: u64 = 3;
/// ...and accounts for at least this share of all the growth.
pub const DRIVER_MIN_SHARE: f64 = 0.5;
/// The key of the connections not named in a timeline entry. Never a client's name: those
/// always hold an `@`.
pub const OTHER: &str = "other";

/// One sample as the ticket shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TimelineEntry {
    /// RFC 3339, UTC, seconds.
    pub time: String,
    pub threads_connected: u64,
    pub running: u64,
    /// Logins refused with ERROR 1040 since the previous sample.
    pub refused: u64,
    /// Connections per client (`user@host`, ` (app)` when the application is known), the
    /// [`TIMELINE_CLIENTS`] largest, and `other` for the rest.
    pub clients: BTreeMap<String, u64>,
}

/// `user@host`, with ` (app)` when the application name is known.
pub fn client_name(c: &ClientCount) -> String {
    match c.app.as_deref().filter(|a| !a.is_empty()) {
        Some(app) => format!("{}@{} ({app})", c.user, c.host),
        None => c.account(),
    }
}

/// RFC 3339 UTC (seconds) of a Unix time in milliseconds.
pub fn rfc3339(at_ms: u64) -> String {
    crate::units::utc_ms(at_ms)
}

/// The `timeline` array: every sample, oldest first.
pub fn timeline(history: &SampleHistory) -> Vec<TimelineEntry> {
    let mut prev_refused: Option<u64> = None;
    history
        .samples
        .iter()
        .map(|s| {
            // A counter that went down is a restart: everything since it counts as new.
            let refused = match prev_refused {
                Some(p) => s.refused_total.checked_sub(p).unwrap_or(s.refused_total),
                None => 0,
            };
            prev_refused = Some(s.refused_total);
            TimelineEntry {
                time: rfc3339(s.at_ms),
                threads_connected: s.threads_connected,
                running: s.threads_running,
                refused,
                clients: entry_clients(s),
            }
        })
        .collect()
}

fn entry_clients(s: &Sample) -> BTreeMap<String, u64> {
    let mut sorted: Vec<&ClientCount> = s.clients.iter().collect();
    sorted.sort_by_key(|c| std::cmp::Reverse(c.connections));
    let mut out = BTreeMap::new();
    let mut other = s.other_connections;
    for c in sorted {
        if out.len() >= TIMELINE_CLIENTS {
            other = other.saturating_add(c.connections);
            continue;
        }
        let n = out.entry(unique_name(&out, client_name(c))).or_insert(0);
        *n = n.saturating_add(c.connections);
    }
    if other > 0 {
        out.insert(OTHER.to_string(), other);
    }
    out
}

/// `name`, or `name #2`, `name #3`… when a different client already goes by it (a user
/// `a@b` on host `c` and a user `a` on host `b@c`).
fn unique_name(taken: &BTreeMap<String, u64>, name: String) -> String {
    if !taken.contains_key(&name) {
        return name;
    }
    (2..)
        .map(|i| format!("{name} #{i}"))
        .find(|n| !taken.contains_key(n))
        .unwrap_or(name)
}

/// The growth of one client or application over the window before the trigger.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Grower {
    /// `user@host (app)` for a client, the application name for an application.
    pub name: String,
    /// Connections at the start of its growth (its minimum before the trigger).
    pub from: u64,
    /// Connections at the trigger.
    pub to: u64,
    /// `to - from`.
    pub grew_by: u64,
    /// When it started growing: the last sample at or before the trigger where it was at
    /// `from`.
    pub since: String,
    /// Average growth from `since` to the trigger, connections per minute.
    pub rate_per_min: f64,
    /// Its part of all the growth (0..1).
    pub share: f64,
}

/// A server-wide number before the trigger.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Span {
    /// At the first sample of the window, at the trigger, the highest in between.
    pub from: u64,
    pub to: u64,
    pub peak: u64,
}

/// Refusals in the window.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Refusals {
    /// Logins refused with ERROR 1040 between the first sample and the trigger.
    pub total: u64,
    /// The first sample that saw a new refusal.
    pub first_at: Option<String>,
}

/// `growth`: what grew in the window before the trigger.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Growth {
    /// The first sample of the window and the trigger sample.
    pub window_start: String,
    pub trigger_at: String,
    pub samples: usize,
    pub threads_connected: Span,
    pub running: Span,
    pub refused: Refusals,
    /// The clients that grew most, largest growth first (at most [`TOP_GROWERS`]).
    pub clients: Vec<Grower>,
    /// The same per application name, where the server exposes it.
    pub apps: Vec<Grower>,
    /// The client that drove the growth: the top grower when it grew by at least
    /// [`DRIVER_MIN_GROWTH`] and holds at least [`DRIVER_MIN_SHARE`] of it; none on a flat
    /// history or when many clients grew alike.
    pub driver: Option<Grower>,
    /// The application behind the driver, or the application that drove the growth.
    pub driver_app: Option<Grower>,
    /// When the growth started: the driver's `since`, else the start of the Threads_connected
    /// rise; none on a flat history.
    pub started_at: Option<String>,
    /// The trend of the last minute before the trigger and the time to max_connections at that
    /// rate, as the recorder saw it (`rate_per_min`, `full_in_s`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forecast: Option<Forecast>,
}

/// One client's (or application's) connections, only at the samples where it appears: memory
/// follows the file, never clients × samples (a history whose every sample names new clients
/// would otherwise take gigabytes).
#[derive(Debug, Clone, PartialEq, Default)]
struct Sparse {
    /// (sample index, connections), in sample order, one point per index.
    points: Vec<(usize, u64)>,
    /// Samples in the window.
    len: usize,
}

impl Sparse {
    fn add(&mut self, i: usize, n: u64) {
        match self.points.last_mut() {
            Some((at, v)) if *at == i => *v = v.saturating_add(n),
            _ => self.points.push((i, n)),
        }
    }

    /// The value at the last sample.
    fn last(&self) -> u64 {
        match self.points.last() {
            Some((i, v)) if *i + 1 == self.len => *v,
            _ => 0,
        }
    }

    fn peak(&self) -> u64 {
        self.points.iter().map(|p| p.1).max().unwrap_or(0)
    }

    /// One value per sample.
    fn dense(&self) -> Vec<u64> {
        let mut v = vec![0; self.len];
        for (i, n) in &self.points {
            v[*i] = *n;
        }
        v
    }

    /// [`rise_start`] of [`Sparse::dense`], in time proportional to the points.
    fn rise_start(&self) -> Option<(usize, u64)> {
        if self.len == 0 {
            return None;
        }
        let last = self.last();
        let min = if self.points.len() < self.len {
            0
        } else {
            self.points.iter().map(|p| p.1).min()?
        };
        if last <= min {
            return None;
        }
        if min > 0 {
            return self
                .points
                .iter()
                .rev()
                .find(|p| p.1 == min)
                .map(|p| (p.0, min));
        }
        // The last sample at 0: one missing from the points, or a point of 0.
        let mut expected = Some(self.len - 1);
        for &(i, v) in self.points.iter().rev() {
            let e = expected?;
            if i < e || v == 0 {
                return Some((e, 0));
            }
            expected = i.checked_sub(1);
        }
        expected.map(|e| (e, 0))
    }
}

/// One series per client (or application) over the window.
struct Series {
    names: Vec<String>,
    values: Vec<Sparse>,
}

impl Series {
    fn build(samples: &[Sample], key: impl Fn(&ClientCount) -> Option<String>) -> Series {
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut s = Series {
            names: Vec::new(),
            values: Vec::new(),
        };
        for (i, sample) in samples.iter().enumerate() {
            for c in &sample.clients {
                let Some(k) = key(c) else { continue };
                let slot = *index.entry(k.clone()).or_insert_with(|| {
                    s.names.push(k);
                    s.values.push(Sparse {
                        points: Vec::new(),
                        len: samples.len(),
                    });
                    s.names.len() - 1
                });
                s.values[slot].add(i, c.connections);
            }
        }
        s
    }

    fn growers(&self, samples: &[Sample]) -> Vec<Grower> {
        let mut list: Vec<Grower> = self
            .names
            .iter()
            .zip(&self.values)
            .filter_map(|(name, v)| grower(name, v, samples))
            .collect();
        let total = saturating_sum(list.iter().map(|g| g.grew_by));
        for g in &mut list {
            g.share = round(g.grew_by as f64 / total.max(1) as f64, 3);
        }
        list.sort_by(|a, b| b.grew_by.cmp(&a.grew_by).then_with(|| a.name.cmp(&b.name)));
        list
    }
}

/// A sum of counts that stops at `u64::MAX`: the samples may come from a file, holding any number.
fn saturating_sum(values: impl Iterator<Item = u64>) -> u64 {
    values.fold(0, u64::saturating_add)
}

fn round(x: f64, places: i32) -> f64 {
    let p = 10f64.powi(places);
    (x * p).round() / p
}

/// The growth of one series ending at the trigger (its last value), or none if it did not grow.
fn grower(name: &str, v: &Sparse, samples: &[Sample]) -> Option<Grower> {
    let (start, from) = v.rise_start()?;
    let to = v.last();
    let minutes = (samples[v.len - 1]
        .at_ms
        .saturating_sub(samples[start].at_ms)) as f64
        / 60e3;
    Some(Grower {
        name: name.to_string(),
        from,
        to,
        grew_by: to.saturating_sub(from),
        since: rfc3339(samples[start].at_ms),
        rate_per_min: if minutes > 0.0 {
            round(to.saturating_sub(from) as f64 / minutes, 1)
        } else {
            0.0
        },
        share: 0.0,
    })
}

/// Where a series' rise to its last value starts: the last index holding its minimum, and
/// that minimum; none when the last value is not above the minimum.
fn rise_start(v: &[u64]) -> Option<(usize, u64)> {
    let last = *v.last()?;
    let min = *v.iter().min()?;
    if last <= min {
        return None;
    }
    let start = v.iter().rposition(|x| *x == min)?;
    Some((start, min))
}

fn span(values: impl Iterator<Item = u64> + Clone) -> Span {
    Span {
        from: values.clone().next().unwrap_or(0),
        to: values.clone().last().unwrap_or(0),
        peak: values.max().unwrap_or(0),
    }
}

/// The samples of the window: those at or before the trigger (all of them when none is).
pub fn window(history: &SampleHistory, triggered_at_ms: u64) -> &[Sample] {
    let n = history
        .samples
        .partition_point(|s| s.at_ms <= triggered_at_ms);
    if n == 0 {
        &history.samples
    } else {
        &history.samples[..n]
    }
}

/// The growth analysis of the window before the trigger; none without samples.
pub fn growth(history: &SampleHistory, triggered_at_ms: u64) -> Option<Growth> {
    let w = window(history, triggered_at_ms);
    let (first, last) = (w.first()?, w.last()?);
    let clients = Series::build(w, |c| Some(client_name(c))).growers(w);
    let apps = Series::build(w, |c| c.app.clone().filter(|a| !a.is_empty())).growers(w);
    let driver = clients
        .first()
        .filter(|g| g.grew_by >= DRIVER_MIN_GROWTH && g.share >= DRIVER_MIN_SHARE)
        .cloned();
    let driver_app = apps
        .first()
        .filter(|g| g.grew_by >= DRIVER_MIN_GROWTH && g.share >= DRIVER_MIN_SHARE)
        .cloned();
    let connected: Vec<u64> = w.iter().map(|s| s.threads_connected).collect();
    let started_at = driver.as_ref().map(|d| d.since.clone()).or_else(|| {
        rise_start(&connected)
            .filter(|(_, min)| last.threads_connected.saturating_sub(*min) >= DRIVER_MIN_GROWTH)
            .map(|(i, _)| rfc3339(w[i].at_ms))
    });
    let mut refused = Refusals {
        total: 0,
        first_at: None,
    };
    for pair in w.windows(2) {
        let (a, b) = (pair[0].refused_total, pair[1].refused_total);
        // A counter that went down is a restart (or FLUSH STATUS): all of it is new. The sum
        // saturates: a recorded file may hold any number.
        let new = b.checked_sub(a).unwrap_or(b);
        if new > 0 {
            refused.total = refused.total.saturating_add(new);
            refused
                .first_at
                .get_or_insert_with(|| rfc3339(pair[1].at_ms));
        }
    }
    Some(Growth {
        forecast: forecast::of_recent_samples(w),
        window_start: rfc3339(first.at_ms),
        trigger_at: rfc3339(last.at_ms),
        samples: w.len(),
        threads_connected: span(w.iter().map(|s| s.threads_connected)),
        running: span(w.iter().map(|s| s.threads_running)),
        refused,
        clients: clients.into_iter().take(TOP_GROWERS).collect(),
        apps: apps.into_iter().take(TOP_GROWERS).collect(),
        driver,
        driver_app,
        started_at,
    })
}

/// The connections of the named clients (as [`client_name`] prints them) at every sample, one
/// series per name, in the order given.
pub fn series_for(samples: &[Sample], names: &[&str]) -> Vec<Vec<u64>> {
    let index: HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let mut out = vec![vec![0u64; samples.len()]; names.len()];
    for (i, s) in samples.iter().enumerate() {
        for c in &s.clients {
            if let Some(k) = index.get(client_name(c).as_str()) {
                out[*k][i] = out[*k][i].saturating_add(c.connections);
            }
        }
    }
    out
}

/// Connections of the top clients over the whole history, for the chart and the sparklines.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientSeries {
    /// Unix milliseconds of each sample.
    pub at_ms: Vec<u64>,
    /// The top clients by their highest count, largest first, each with one value per sample.
    pub clients: Vec<(String, Vec<u64>)>,
    /// Every other client connection, per sample.
    pub other: Vec<u64>,
    pub max_connections: Vec<u64>,
    pub threads_connected: Vec<u64>,
}

/// The `top` clients by their highest count over the history, and the rest as `other`.
pub fn client_series(history: &SampleHistory, top: usize) -> ClientSeries {
    let samples = &history.samples;
    let all = Series::build(samples, |c| Some(client_name(c)));
    let mut order: Vec<usize> = (0..all.names.len()).collect();
    let peak = |i: usize| all.values[i].peak();
    order.sort_by(|a, b| {
        peak(*b)
            .cmp(&peak(*a))
            .then(all.names[*a].cmp(&all.names[*b]))
    });
    order.truncate(top);
    let clients: Vec<(String, Vec<u64>)> = order
        .iter()
        .map(|i| (all.names[*i].clone(), all.values[*i].dense()))
        .collect();
    let other = samples
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let named = saturating_sum(clients.iter().map(|(_, v)| v[i]));
            let total = saturating_sum(s.clients.iter().map(|c| c.connections))
                .saturating_add(s.other_connections);
            total.saturating_sub(named)
        })
        .collect();
    ClientSeries {
        at_ms: samples.iter().map(|s| s.at_ms).collect(),
        clients,
        other,
        max_connections: samples.iter().map(|s| s.max_connections).collect(),
        threads_connected: samples.iter().map(|s| s.threads_connected).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(user: &str, host: &str, app: Option<&str>, n: u64) -> ClientCount {
        ClientCount {
            user: user.into(),
            host: host.into(),
            app: app.map(str::to_string),
            connections: n,
            running: 0,
        }
    }

    /// 60 samples 1 s apart from t=1000 s: `web` flat at 10, `batch` flat at 4, and `app`
    /// (app name `orders`) flat at 5 until sample `start`, then one more per sample.
    fn leak(start: usize) -> SampleHistory {
        let samples = (0..60usize)
            .map(|i| {
                let leaked = 5 + i.saturating_sub(start) as u64;
                let clients = vec![
                    client("app", "10.0.0.1", Some("orders"), leaked),
                    client("web", "10.0.0.2", None, 10),
                    client("batch", "10.0.0.3", None, 4),
                ];
                Sample {
                    at_ms: 1_000_000 + i as u64 * 1000,
                    threads_connected: leaked + 14 + 1,
                    threads_running: 2,
                    max_connections: 151,
                    clients,
                    ..Default::default()
                }
            })
            .collect();
        SampleHistory {
            schema_version: 1,
            target: "t".into(),
            interval_ms: 1000,
            samples,
        }
    }

    #[test]
    fn a_steady_leak_names_the_leaker_its_start_and_its_rate() {
        let h = leak(20);
        let g = growth(&h, 1_059_000).unwrap();
        let d = g.driver.as_ref().expect("a driver");
        assert_eq!(d.name, "app@10.0.0.1 (orders)");
        assert_eq!((d.from, d.to, d.grew_by), (5, 44, 39));
        assert_eq!(d.since, rfc3339(1_020_000), "the start within one sample");
        // One connection a second: 60 a minute.
        assert!((d.rate_per_min - 60.0).abs() < 1.0, "{}", d.rate_per_min);
        assert_eq!(d.share, 1.0);
        assert_eq!(g.started_at.as_deref(), Some(d.since.as_str()));
        assert_eq!(g.driver_app.as_ref().unwrap().name, "orders");
        assert_eq!(
            g.clients.len(),
            1,
            "flat clients did not grow: {:?}",
            g.clients
        );
        assert_eq!(
            g.threads_connected,
            Span {
                from: 20,
                to: 59,
                peak: 59
            }
        );
        assert_eq!(g.samples, 60);
    }

    #[test]
    fn the_window_ends_at_the_trigger() {
        let h = leak(20);
        // Triggered at sample 40: samples after it are not part of the growth.
        let g = growth(&h, 1_040_000).unwrap();
        assert_eq!(g.samples, 41);
        assert_eq!(g.driver.unwrap().to, 25);
        assert_eq!(g.trigger_at, rfc3339(1_040_000));
    }

    #[test]
    fn a_flat_history_has_no_driver() {
        let h = leak(1000);
        let g = growth(&h, 1_059_000).unwrap();
        assert_eq!(g.driver, None);
        assert_eq!(g.driver_app, None);
        assert_eq!(g.started_at, None);
        assert!(g.clients.is_empty());
        assert_eq!(g.refused.total, 0);
    }

    #[test]
    fn many_clients_growing_alike_have_no_driver() {
        let mut h = leak(1000);
        for (i, s) in h.samples.iter_mut().enumerate() {
            for c in &mut s.clients {
                c.connections += i as u64 / 10;
            }
        }
        let g = growth(&h, 1_059_000).unwrap();
        assert_eq!(g.clients.len(), 3);
        assert_eq!(g.driver, None, "{:?}", g.clients);
    }

    #[test]
    fn refusals_are_the_growth_of_the_counter() {
        let mut h = leak(20);
        for (i, s) in h.samples.iter_mut().enumerate() {
            s.refused_total = 100 + (i as u64).saturating_sub(50) * 3;
        }
        let t = timeline(&h);
        assert_eq!(t[0].refused, 0);
        assert_eq!(t[50].refused, 0);
        assert_eq!(t[51].refused, 3);
        let g = growth(&h, 1_059_000).unwrap();
        assert_eq!(g.refused.total, 27);
        assert_eq!(g.refused.first_at, Some(rfc3339(1_051_000)));
        // A restart resets the counter: what it shows after is new.
        h.samples[55].refused_total = 2;
        assert_eq!(timeline(&h)[55].refused, 2);
    }

    /// Counters go back (FLUSH STATUS, a restart) and a recorded file may hold any number: the
    /// refusals after a drop count from zero and every sum stops at u64::MAX, never overflows
    /// (a panic with overflow checks, as release builds have).
    #[test]
    fn counters_that_go_back_never_overflow() {
        let mut h = leak(20);
        for (i, s) in h.samples.iter_mut().enumerate() {
            // Near the top, then back to small numbers after each "restart".
            s.refused_total = match i % 3 {
                0 => 0,
                1 => u64::MAX,
                _ => 7,
            };
            s.other_connections = u64::MAX;
            s.threads_connected = if i % 2 == 0 { u64::MAX } else { 0 };
        }
        h.samples[59].clients[0].connections = u64::MAX;
        h.samples[59].clients[1].connections = u64::MAX;
        let g = growth(&h, 1_059_000).unwrap();
        assert_eq!(g.refused.total, u64::MAX, "saturated, not wrapped");
        let t = timeline(&h);
        assert_eq!(t[1].refused, u64::MAX);
        assert_eq!(t[2].refused, 7, "back from u64::MAX: all of it is new");
        assert_eq!(t[59].clients[OTHER], u64::MAX);
        // The top client (app, 5 at the first sample) and the rest: a saturated total less it.
        let series = client_series(&h, 1);
        assert_eq!(series.other[0], u64::MAX - 5);
    }

    #[test]
    fn timeline_entries_name_clients_and_cap_them() {
        let mut h = leak(20);
        let t = timeline(&h);
        assert_eq!(t.len(), 60);
        assert_eq!(t[0].time, "1970-01-01T00:16:40Z");
        assert_eq!(t[0].clients["app@10.0.0.1 (orders)"], 5);
        assert_eq!(t[0].clients["web@10.0.0.2"], 10);
        assert!(!t[0].clients.contains_key(OTHER));
        let s = &mut h.samples[0];
        s.clients = (0..30)
            .map(|i| client(&format!("u{i}"), "h", None, 1))
            .collect();
        s.other_connections = 7;
        let e = &timeline(&h)[0];
        assert_eq!(e.clients.len(), TIMELINE_CLIENTS + 1);
        assert_eq!(e.clients[OTHER], 20 + 7);
    }

    #[test]
    fn clients_that_print_alike_keep_their_own_keys() {
        let mut h = leak(20);
        h.samples[0].clients = vec![client("a@b", "c", None, 2), client("a", "b@c", None, 3)];
        let e = &timeline(&h)[0];
        assert_eq!(e.clients.values().sum::<u64>(), 5);
        assert_eq!(e.clients.len(), 2, "{:?}", e.clients);
    }

    #[test]
    fn hostile_names_are_kept_as_data() {
        let mut h = leak(0);
        for s in &mut h.samples {
            s.clients[0].user = "<script>&\"'\x1b[2J".into();
        }
        let g = growth(&h, 1_059_000).unwrap();
        assert!(g.driver.unwrap().name.starts_with("<script>&\"'\x1b[2J@"));
    }

    #[test]
    fn client_series_keeps_the_top_and_sums_the_rest() {
        let h = leak(20);
        let s = client_series(&h, 1);
        assert_eq!(s.clients.len(), 1);
        assert_eq!(s.clients[0].0, "app@10.0.0.1 (orders)");
        assert_eq!(s.other, vec![14; 60]);
        assert_eq!(s.at_ms.len(), 60);
        assert_eq!(s.max_connections[0], 151);
    }

    /// The sparse series agrees with the dense one on every shape (gaps, zeros, repeats).
    #[test]
    fn sparse_series_rise_like_dense_ones() {
        let mut seed = 7u64;
        let mut next = |m: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % m
        };
        for _ in 0..5000 {
            let len = usize::try_from(next(8)).unwrap();
            let mut sparse = Sparse {
                points: Vec::new(),
                len,
            };
            for i in 0..len {
                // Absent, or 0..3 connections, sometimes in two parts (a name seen twice).
                match next(4) {
                    0 => {}
                    _ => {
                        sparse.add(i, next(4));
                        if next(3) == 0 {
                            sparse.add(i, next(2));
                        }
                    }
                }
            }
            let dense = sparse.dense();
            assert_eq!(sparse.rise_start(), rise_start(&dense), "{dense:?}");
            assert_eq!(sparse.last(), dense.last().copied().unwrap_or(0));
            assert_eq!(sparse.peak(), dense.iter().copied().max().unwrap_or(0));
        }
    }

    #[test]
    fn an_empty_history_has_no_growth() {
        assert_eq!(growth(&SampleHistory::default(), 0), None);
        assert!(timeline(&SampleHistory::default()).is_empty());
    }
}
