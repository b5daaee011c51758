//! Why an operation on the simulated Giosg was refused, in the model's own terms.
//!
//! No HTTP here: the HTTP layer (`crate::error`) turns these into answers.

/// Why an operation on the simulated Giosg was refused. The HTTP status depends on who asked
/// (a visitor through the Giosg API, or the control API) and on
/// [`Behaviour`](crate::config::Behaviour); see `crate::error`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StateError {
    #[error("Room not found.")]
    RoomNotFound,
    #[error("Visitor not found.")]
    VisitorNotFound,
    #[error("Chat not found.")]
    ChatNotFound,
    #[error("Chat message not found.")]
    MessageNotFound,
    /// The chat exists but belongs to another visitor.
    #[error("Chat not found.")]
    ForeignChat,
    #[error("The chat has ended.")]
    ChatEnded,
    #[error("The room is offline.")]
    RoomOffline,
    #[error("Invalid visitor secret.")]
    UnknownSecret,
    /// Presence refresh for a visitor who never joined the room.
    #[error("Visitor is not in the room.")]
    NotInRoom,
    /// Chat start before joining the room, when
    /// [`Behaviour::require_room_join`](crate::config::Behaviour::require_room_join) is set.
    #[error("The visitor must join the room before starting a chat.")]
    NotJoined,
    #[error("{0} is not a member of the chat.")]
    AgentNotInChat(String),
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenProblem {
    Unknown,
    Expired,
}
