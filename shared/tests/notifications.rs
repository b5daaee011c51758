//! Away notifications through SNS (moto), read back from an SQS queue subscribed to the topic,
//! as a company's push service would receive them.

mod support;

use shared::aws::sdk_config;
use shared::domain::message::{Message, Sender, SenderKind};
use shared::domain::{ChatId, GiosgTime, MessageId, MessageType};
use shared::notify::sns::SnsNotifier;
use shared::notify::{AwayNotification, NotifyPort};

fn agent_message() -> Message {
    Message {
        id: MessageId::new("m-1"),
        chat_id: ChatId::new("c-1"),
        message_type: MessageType::Msg,
        sender: Sender {
            sender_type: SenderKind::Agent,
            name: Some("Smith".into()),
            avatar_url: None,
        },
        text: Some("x".repeat(150)),
        attachments: Vec::new(),
        created_at: Some(GiosgTime::from(
            chrono::DateTime::from_timestamp(1_900_000_000, 0).unwrap(),
        )),
        client_message_id: None,
        deleted: false,
        attachments_truncated: false,
    }
}

#[tokio::test]
async fn an_away_notification_reaches_a_queue_subscribed_to_the_topic() {
    let config = sdk_config(Some(support::moto::endpoint())).await;
    let sns = aws_sdk_sns::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let name = format!("away-{}", uuid::Uuid::new_v4().simple());
    let topic = sns.create_topic().name(&name).send().await.unwrap();
    let topic_arn = topic.topic_arn().unwrap().to_owned();
    let queue = sqs.create_queue().queue_name(&name).send().await.unwrap();
    let queue_url = queue.queue_url().unwrap().to_owned();
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap();
    let queue_arn =
        attributes.attributes().unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn].clone();
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(&queue_arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap();

    let notifier = SnsNotifier::new(sns, topic_arn);
    let message = agent_message();
    notifier
        .publish(&AwayNotification::of(
            &message,
            Some("user-42".into()),
            true,
        ))
        .await
        .unwrap();
    notifier
        .publish(&AwayNotification::of(&message, None, false))
        .await
        .unwrap();

    let mut bodies = Vec::new();
    for _ in 0..10 {
        let received = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap();
        for delivered in received.messages() {
            let attribute = delivered.message_attributes().and_then(|a| a.get("event"));
            assert_eq!(
                attribute.and_then(|a| a.string_value()),
                Some("agent_message")
            );
            bodies.push(
                serde_json::from_str::<serde_json::Value>(delivered.body().unwrap()).unwrap(),
            );
        }
        if bodies.len() == 2 {
            break;
        }
    }
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    let with_preview = bodies
        .iter()
        .find(|b| b["visitor_ref"] == "user-42")
        .unwrap();
    assert_eq!(with_preview["event"], "agent_message");
    assert_eq!(with_preview["chat_id"], "c-1");
    assert_eq!(with_preview["message_id"], "m-1");
    assert_eq!(with_preview["sender_name"], "Smith");
    assert_eq!(with_preview["created_at"], "2030-03-17T17:46:40.000Z");
    assert_eq!(
        with_preview["preview"].as_str().unwrap().chars().count(),
        100
    );
    let without = bodies.iter().find(|b| b["visitor_ref"].is_null()).unwrap();
    assert!(without.get("preview").is_none(), "{without}");
}
