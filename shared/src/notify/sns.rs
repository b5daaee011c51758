//! Away notifications through an SNS topic: the event as the message body (JSON), and its
//! name (`agent_message`) as the message attribute `event`, for subscription filters.

use aws_sdk_sns::types::MessageAttributeValue;

use super::{AwayNotification, NotifyError, NotifyPort};

pub struct SnsNotifier {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsNotifier {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: String) -> Self {
        Self { client, topic_arn }
    }
}

impl NotifyPort for SnsNotifier {
    async fn publish(&self, notification: &AwayNotification) -> Result<(), NotifyError> {
        let body =
            serde_json::to_string(notification).map_err(|error| NotifyError(error.to_string()))?;
        let event = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(notification.event)
            .build()
            .map_err(|error| NotifyError(error.to_string()))?;
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .message(body)
            .message_attributes("event", event)
            .send()
            .await
            .map_err(|error| {
                let code = aws_sdk_sns::error::ProvideErrorMetadata::code(&error)
                    .unwrap_or("unknown")
                    .to_owned();
                NotifyError(format!("SNS Publish: {code}"))
            })?;
        Ok(())
    }
}
