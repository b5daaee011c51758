//! The frontend API and the webhook endpoints, over HTTP, with the Giosg simulator delivering
//! real webhooks. Every test runs against the in-memory store and against DynamoDB (moto).
//!
//! One test binary; the scenarios live in the topic modules below, and `scenarios!` runs each
//! of them against both stores (`memory::*`, `dynamodb::*`).

#[path = "../support/mod.rs"]
mod support;

mod admin;
mod errors;
mod exactly_once;
mod faults_anywhere;
mod feed;
mod history;
mod identity;
mod identity_jwks;
mod limits;
mod reconcile;
mod sending;
mod starting;
mod webhooks;

use serde_json::Value;

/// Runs each scenario against both stores.
macro_rules! scenarios {
    ($($module:ident::$name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$module::$name(shared::store::memory::MemoryStore::new()).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$module::$name(super::support::moto::fresh_store().await).await;
                }
            )*
        }
    };
}

scenarios!(
    identity::devices_of_one_identity_share_chats_and_history,
    identity::refused_identity_tokens_are_401_and_change_nothing,
    identity::identity_token_without_identity_configured_is_400,
    identity::the_tokens_name_is_the_visitors_name,
    identity::erasing_by_subject_erases_the_person_and_every_device,
    identity_jwks::jwks_keys_verify_rotate_and_refuse_hs256,
    identity_jwks::rs256_keys_verify_and_each_key_keeps_its_algorithm,
    starting::availability_follows_the_room,
    starting::new_visitor_gets_a_token_and_a_stored_chat,
    starting::returning_visitor_with_an_open_chat_resumes_it,
    starting::returning_visitor_whose_chat_ended_gets_a_new_chat,
    starting::offline_room_refuses_new_chats,
    starting::chats_are_listed_newest_first,
    starting::chat_ended_in_giosg_whose_webhook_was_lost_is_not_resumed,
    sending::sent_message_is_in_history_at_once_and_the_echo_does_not_duplicate_it,
    sending::client_message_id_replay_returns_the_first_answer_and_sends_nothing,
    sending::idempotency_key_header_works_like_client_message_id,
    sending::ended_chat_refuses_messages_without_calling_giosg,
    sending::expired_giosg_token_is_renewed_and_the_message_is_sent,
    sending::a_refused_send_in_an_open_chat_does_not_end_it,
    history::history_is_in_giosg_order_with_agent_replies_join_and_leave,
    history::history_cursors_page_and_poll,
    history::history_parameters_are_validated,
    history::cursors_of_any_message_id_are_accepted_back,
    feed::a_late_reply_stamped_earlier_still_reaches_the_poller,
    feed::edits_removals_and_purges_come_back_once,
    feed::a_poller_following_cursors_sees_every_final_state,
    webhooks::webhooks_require_the_secret,
    webhooks::webhooks_ignore_other_rooms_and_refuse_garbage,
    webhooks::removed_chat_is_not_found_and_removed_message_is_deleted,
    webhooks::purged_message_has_no_text,
    webhooks::webhook_order_and_duplicates_do_not_matter,
    webhooks::unknown_message_types_pass_through,
    webhooks::unreadable_fields_are_left_out_not_the_message,
    webhooks::unkeyable_ids_are_refused_and_nothing_is_stored,
    webhooks::big_bot_cards_are_stored_and_oversized_ones_trimmed,
    exactly_once::a_send_giosg_took_whose_answer_was_lost_is_not_sent_again,
    exactly_once::a_send_with_an_unknown_outcome_that_did_not_land_is_sent_by_the_retry,
    exactly_once::overlapping_sends_with_one_key_send_once,
    exactly_once::the_echo_of_a_send_whose_answer_was_lost_settles_it,
    exactly_once::overlapping_starts_with_one_token_open_one_chat,
    exactly_once::a_start_giosg_took_whose_answer_was_lost_is_found_by_the_retry,
    faults_anywhere::a_send_with_a_fault_anywhere_lands_exactly_once,
    faults_anywhere::a_start_with_a_fault_anywhere_opens_exactly_one_chat,
    reconcile::reconciling_after_lost_webhooks_shows_giosgs_truth,
    reconcile::a_run_keeps_its_budget_and_the_next_resumes,
    reconcile::counters_put_the_chat_with_a_lost_message_first,
    errors::giosg_outage_is_giosg_unavailable,
    errors::unknown_or_malformed_tokens_are_unauthorized,
    errors::another_visitors_chat_is_not_found,
    errors::message_text_is_validated,
    errors::a_field_of_the_wrong_type_is_named,
    admin::export_returns_the_chat_its_messages_and_its_visitor,
    admin::erasing_a_chat_leaves_nothing_of_it,
    admin::erasing_a_person_erases_every_visitor_and_chat_of_theirs,
    limits::sends_over_the_limit_are_refused_until_the_bucket_refills,
    limits::starts_over_the_limit_are_refused_and_start_nothing,
    limits::anonymous_starts_are_capped_per_source_address,
    limits::anonymous_starts_can_be_capped_in_all,
    limits::concurrent_sends_cannot_overdraw_the_bucket,
);

fn messages(reply: &support::harness::Reply) -> Vec<Value> {
    reply.body["messages"].as_array().unwrap().clone()
}
