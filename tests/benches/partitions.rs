//! `make bench`: where the writes of a million orders' whole lives land, partition by
//! partition, and how many transitions a second that sustains at DynamoDB's limit of
//! about 1,000 write units a second per partition (table and index partitions alike).
//!
//! Every key is made by the real key functions (`peyman::adapters::dynamo::keys`, with
//! the rules' own timer subjects); what is modelled is which items each step writes
//! (the flows' commits, as `make bench`'s capacity table meters them) and how many write
//! units each costs. The assumptions are printed with the figures. Nothing is asserted.

use std::collections::HashMap;

use peyman::adapters::dynamo::keys;
use peyman_rules::lifecycle::Timer;
use peyman_rules::payment::refund_timer;

/// Write units per item, from the capacity table's meter (`make bench`, 2026-12-07):
/// a put in a transaction is doubled; an index write is one unit per KB of the item.
mod units {
    /// The order item without its sealed terms (under 1 KB), in a transaction.
    pub const ORDER: u64 = 2;
    /// An offer's or order's sealed terms, written once beside it, in a transaction.
    pub const SEALED: u64 = 2;
    pub const OFFER: u64 = 2;
    pub const REQUEST: u64 = 2;
    pub const DISPUTE: u64 = 2;
    /// An index entry (keys only), written when an item enters, leaves or moves in a
    /// list or queue, never when it only changes.
    pub const INDEX_ENTRY: u64 = 1;
    /// A timeline event carrying its follow-ups (under 1 KB), in a transaction.
    pub const EVENT: u64 = 2;
    /// A small item in a transaction: a timer, a contact marker, a delivery, a review, a
    /// payment, a received provider event, a statement.
    pub const SMALL: u64 = 2;
    /// A small item on its own: a message, a notification.
    pub const SINGLE: u64 = 1;
}

/// Where each write goes: a table or index partition, and its units.
#[derive(Default)]
struct Writes {
    /// Partitions that outlive one order (users', lists, queues, timers, gigs).
    shared: HashMap<String, u64>,
    /// One order's own partitions (its order, offer, request, payment, dispute), counted
    /// per life: only the largest is kept.
    own: HashMap<String, u64>,
    largest_own: (String, u64),
    total: u64,
    transitions: u64,
}

impl Writes {
    fn shared(&mut self, partition: String, units: u64) {
        *self.shared.entry(partition).or_default() += units;
        self.total += units;
    }

    fn own(&mut self, partition: String, units: u64) {
        *self.own.entry(partition).or_default() += units;
        self.total += units;
    }

    fn end_of_life(&mut self) {
        for (partition, units) in self.own.drain() {
            if units > self.largest_own.1 {
                self.largest_own = (partition, units);
            }
        }
    }

    fn timer(&mut self, due_ms: i64, subject: &str) {
        // Set by its transition, then taken by the sweep that fires or drops it.
        self.shared(keys::timer(due_ms, subject).pk, 2 * units::SMALL);
    }

    fn notify(&mut self, user: &str) {
        self.shared(keys::notification(user, "").pk, units::SINGLE);
    }
}

const ORDERS: u64 = 1_000_000;
const SELLERS: u64 = 50_000;
const BUYERS: u64 = 250_000;
/// One order in this many is disputed; one in this many has its payment held.
const DISPUTED_EVERY: u64 = 20;
const HELD_EVERY: u64 = 200;
const PARTITION_LIMIT: f64 = 1_000.0;

fn id(kind: u128, i: u64) -> String {
    ulid::Ulid::from_parts(1_800_000_000_000 + i, (kind << 64) | u128::from(i)).to_string()
}

/// One order's whole life, from the buyer's message to the closed review window, with
/// the writes each step's commit makes.
fn life(w: &mut Writes, i: u64) {
    let seller = format!("seller-{}", (i * 7_919) % SELLERS);
    let buyer = format!("buyer-{}", (i * 104_729) % BUYERS);
    let (request, offer, order, intent) = (id(1, i), id(2, i), id(3, i), format!("pi_{}", id(4, i)));
    let due = 1_800_000_000_000 + i as i64;
    let tracked = |kind: &str, id: &str| keys::tracked(kind, id).pk;
    let transition = |w: &mut Writes| w.transitions += 1;

    // The buyer's message (not a transition).
    w.shared(keys::conversation(&buyer, &seller), units::SINGLE);
    // The request: its item (entering both lists), event, timer, contact marker; the
    // seller told.
    transition(w);
    w.own(tracked("REQUEST", &request), units::REQUEST + units::EVENT);
    w.shared(keys::buyer_list("REQUEST", &buyer), units::INDEX_ENTRY);
    w.shared(keys::seller_list("REQUEST", &seller), units::INDEX_ENTRY);
    w.timer(due + 14 * 86_400_000, &format!("request/{request}"));
    w.shared(keys::conversation(&buyer, &seller), units::SMALL);
    w.notify(&seller);
    // The offer answers it: the request moves, the offer is sent with its sealed terms;
    // the buyer told.
    transition(w);
    w.own(tracked("REQUEST", &request), units::REQUEST + units::EVENT);
    w.own(tracked("OFFER", &offer), units::OFFER + units::SEALED + units::EVENT);
    w.shared(keys::buyer_list("OFFER", &buyer), units::INDEX_ENTRY);
    w.shared(keys::seller_list("OFFER", &seller), units::INDEX_ENTRY);
    w.timer(due + 7 * 86_400_000, &format!("offer/{offer}"));
    w.notify(&buyer);
    // The accept: the offer moves, the order is placed with its payment; both told.
    transition(w);
    w.own(tracked("OFFER", &offer), units::OFFER + units::EVENT);
    order_placed(w, &order, &buyer, &seller);
    let subject = format!("order/{order}");
    w.timer(due + 3_600_000, &Timer::ExpireAtDeadline.subject(&subject));
    w.shared(keys::conversation(&buyer, &seller), units::SMALL);
    w.own(keys::payment(&intent).pk, units::SMALL);
    w.shared(keys::order_payments(&order), units::INDEX_ENTRY);
    w.notify(&buyer);
    w.notify(&seller);
    // The provider's webhook pays it: the event remembered, the payment and order move.
    transition(w);
    w.own(keys::received_event("stripe", &id(5, i)).pk, units::SMALL);
    w.own(keys::payment(&intent).pk, units::SMALL);
    if i.is_multiple_of(HELD_EVERY) {
        w.shared(keys::queue_shard(keys::HELD_PAYMENTS, &keys::payment(&intent).pk), units::INDEX_ENTRY);
    }
    order_moves(w, &order);
    w.timer(due + 3 * 86_400_000, &Timer::LateAtDue.subject(&subject));
    w.timer(due + 4 * 86_400_000, &Timer::LateCancellationOpens.subject(&subject));
    w.notify(&buyer);
    w.notify(&seller);
    if i.is_multiple_of(DISPUTED_EVERY) {
        dispute(w, i, &order, &buyer, &seller);
    }
    // Delivered, a revision asked, delivered again, accepted: each moves the order.
    for step in ["deliver", "revise", "deliver", "accept"] {
        transition(w);
        order_moves(w, &order);
        match step {
            "deliver" => {
                w.own(keys::delivery(&order, &id(6, i)).pk, units::SMALL);
                w.timer(due + 6 * 86_400_000, &Timer::AutoComplete.subject(&subject));
                w.notify(&buyer);
            }
            "accept" => {
                w.timer(due + 20 * 86_400_000, &Timer::ReviewWindowCloses.subject(&subject));
                w.notify(&seller);
            }
            _ => w.notify(&seller),
        }
    }
    // The buyer's review; the window's close publishes it under the gig.
    transition(w);
    w.own(keys::review(&order, "buyer").pk, units::SMALL);
    order_moves(w, &order);
    w.notify(&seller);
    transition(w);
    order_moves(w, &order);
    let gig = format!("gig-{seller}-{}", i % 3);
    w.shared(keys::gig(&gig).pk, units::SMALL);
    w.shared(keys::gig_reviews(&gig), units::INDEX_ENTRY);
    w.notify(&buyer);
    w.notify(&seller);
    w.end_of_life();
}

/// The order is placed: its item, its sealed terms and its event, entering both lists.
fn order_placed(w: &mut Writes, order: &str, buyer: &str, seller: &str) {
    w.own(keys::tracked("ORDER", order).pk, units::ORDER + units::SEALED + units::EVENT);
    w.shared(keys::buyer_list("ORDER", buyer), units::INDEX_ENTRY);
    w.shared(keys::seller_list("ORDER", seller), units::INDEX_ENTRY);
}

/// The order moves: its item and its event (its place in the lists stays).
fn order_moves(w: &mut Writes, order: &str) {
    w.own(keys::tracked("ORDER", order).pk, units::ORDER + units::EVENT);
}

/// A dispute on a paid order: opened (support's open queue), a statement, resolved with
/// a refund (the resolved queue), and the refund's timer.
fn dispute(w: &mut Writes, i: u64, order: &str, buyer: &str, seller: &str) {
    let dispute = id(7, i);
    let pk = keys::tracked("DISPUTE", &dispute).pk;
    for step in ["open", "state", "resolve"] {
        w.transitions += 1;
        w.own(pk.clone(), units::DISPUTE + units::EVENT);
        match step {
            "open" => {
                w.shared(keys::buyer_list("DISPUTE", buyer), units::INDEX_ENTRY);
                w.shared(keys::queue_shard("DISPUTES#OPEN", &pk), units::INDEX_ENTRY);
            }
            // Moved between support's queues: out of one, into the other.
            "resolve" => {
                w.shared(keys::queue_shard("DISPUTES#OPEN", &pk), units::INDEX_ENTRY);
                w.shared(keys::queue_shard("DISPUTES#RESOLVED", &pk), units::INDEX_ENTRY);
            }
            _ => {}
        }
        order_moves(w, order);
        w.notify(buyer);
        w.notify(seller);
    }
    w.own(keys::statement(&dispute, &id(8, i)).pk, units::SMALL);
    w.timer(1_800_000_000_000 + i as i64, &refund_timer(&format!("pi_{}", id(4, i)), "dispute"));
}

/// The kind of a partition: its key with every id replaced, so that a kind's share and
/// its largest partition print on one line.
fn kind(partition: &str) -> String {
    partition
        .split('#')
        .map(|part| {
            if part.chars().all(|c| c.is_ascii_digit()) && part.len() <= 2 {
                "{shard}"
            } else if part.len() > 12 || part.contains('-') || part.starts_with("pi_") {
                "{id}"
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join("#")
}

fn main() {
    let orders = std::env::var("PARTITION_ORDERS").ok().and_then(|n| n.parse().ok()).unwrap_or(ORDERS);
    let started = std::time::Instant::now();
    let mut w = Writes::default();
    for i in 0..orders {
        life(&mut w, i);
    }
    let per_transition = w.total as f64 / w.transitions as f64;
    println!(
        "\nPartitions: the keys of {orders} orders' whole lives (keys.rs), in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    println!(
        "  assumptions: {SELLERS} sellers and {BUYERS} buyers, each order's pair drawn evenly; one order in \
         {DISPUTED_EVERY} disputed, one in {HELD_EVERY} held; every write spread evenly in time; {PARTITION_LIMIT} \
         write units a second per partition, table and index alike; unit sizes from the capacity table"
    );
    println!(
        "  {} write units in {} transitions ({per_transition:.1} units a transition, indexes included)",
        w.total, w.transitions
    );
    let mut kinds: HashMap<String, (u64, u64, String, u64)> = HashMap::new();
    for (partition, &units) in &w.shared {
        let entry = kinds.entry(kind(partition)).or_default();
        entry.0 += units;
        entry.1 += 1;
        if units > entry.3 {
            (entry.2, entry.3) = (partition.clone(), units);
        }
    }
    let mut kinds: Vec<_> = kinds.into_iter().collect();
    kinds.sort_by_key(|k| std::cmp::Reverse(k.1.3));
    println!("\n{:<34} {:>10} {:>9} {:>12}  its key", "partition kind", "partitions", "share", "largest");
    for (kind, (units, count, largest, largest_units)) in &kinds {
        println!(
            "{kind:<34} {count:>10} {:>8.4}% {:>11.5}%  {largest}",
            100.0 * *units as f64 / w.total as f64,
            100.0 * *largest_units as f64 / w.total as f64
        );
    }
    let (own, own_units) = &w.largest_own;
    println!(
        "{:<34} {:>10} {:>9} {:>11.5}%  {own}",
        "one order's own (largest)",
        "",
        "",
        100.0 * *own_units as f64 / w.total as f64
    );
    let hottest = kinds.first().map_or(0, |k| k.1.3).max(*own_units);
    let share = hottest as f64 / w.total as f64;
    println!(
        "\nHottest partition: {:.5}% of all writes. Sustainable: 1,000 / ({share:.7} x {per_transition:.1}) = \
         {:.0} transitions a second",
        100.0 * share,
        PARTITION_LIMIT / (share * per_transition)
    );
    // The same lives with every timer under one key, as before the shards (issue 25).
    let timers: u64 = w.shared.iter().filter(|(k, _)| k.starts_with("TIMERS#")).map(|(_, u)| u).sum();
    let single = timers as f64 / w.total as f64;
    println!(
        "With every timer in one partition (before): {:.2}% of writes there, {:.0} transitions a second",
        100.0 * single,
        PARTITION_LIMIT / (single * per_transition)
    );
}
