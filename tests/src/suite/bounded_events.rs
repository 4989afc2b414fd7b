//! What a request without a second factor can put in a user's trail is bounded: replaying a
//! used download link (the one such event) is one event per link per hour, with a count, and
//! the event bus hears of it once.

use std::sync::Arc;

use backup_codes::domain::events::REPEAT_WINDOW_SECONDS;

use super::{
    admin_reset::{collect_codes, is_gone, redeem_json, reset_by_admin},
    events::whole_trail,
    *,
};
use crate::RecordingBus;

async fn refusals(app: &TestApp) -> Vec<Value> {
    let (trail, _) = whole_trail(app, "/v1/audit", Call::new("GET", "").user("uma"), 100).await;
    trail
        .into_iter()
        .filter(|e| e["type"] == "download_link_refused")
        .collect()
}

pub async fn replays_of_a_used_link_are_one_counted_event_per_hour(app: TestApp) {
    let bus = Arc::new(RecordingBus::default());
    let app = Arc::new(app.with_bus(bus.clone()));
    reset_by_admin(&app).await;
    let token = crate::token_in(&app.mailer.last());
    collect_codes(&app, &token).await;

    let replays: Vec<_> = (0..40)
        .map(|_| {
            let (app, token) = (app.clone(), token.clone());
            tokio::spawn(async move { redeem_json(&app, &token).await })
        })
        .collect();
    for replay in replays {
        let reply = replay.await.unwrap();
        assert!(is_gone(&reply), "{}", reply.text);
    }
    let refused = refusals(&app).await;
    assert_eq!(refused.len(), 1, "one event for 40 replays: {refused:?}");
    assert_eq!(refused[0]["repeats"], 40, "each replay counted once");
    let on_bus = |bus: &RecordingBus| {
        bus.0
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.kind.name() == "download_link_refused")
            .count()
    };
    assert_eq!(on_bus(&bus), 1, "the bus hears of the window's first only");

    // The next hour starts a new event; the earlier one keeps its count.
    app.clock.advance(REPEAT_WINDOW_SECONDS);
    assert!(is_gone(&redeem_json(&app, &token).await));
    let refused = refusals(&app).await;
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert_eq!(
        (
            refused[0]["repeats"].as_u64(),
            refused[1]["repeats"].as_u64()
        ),
        (Some(1), Some(40)),
        "newest first"
    );
    assert_eq!(on_bus(&bus), 2);
    // Other events are not counted.
    let redeemed_event = whole_trail(&app, "/v1/audit", Call::new("GET", "").user("uma"), 100)
        .await
        .0
        .into_iter()
        .find(|e| e["type"] == "download_link_redeemed")
        .unwrap();
    assert_eq!(redeemed_event["repeats"], Value::Null);
}
