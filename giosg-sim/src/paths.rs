//! Route templates of the Giosg API (giosg-api.md §2), shared by the router and the endpoint names.

/// 1: visitor auth.
pub(crate) const VISITOR_AUTH: &str = "/api/v5/public/orgs/{org}/auth";
/// 2: put the visitor in the room.
pub(crate) const ROOM_VISITORS: &str = "/api/v5/public/orgs/{org}/rooms/{room}/visitors";
/// 3: refresh visitor presence.
pub(crate) const ROOM_VISITOR: &str = "/api/v5/public/orgs/{org}/rooms/{room}/visitors/{vid}";
/// 4: visitor variables (organization token).
pub(crate) const VISITOR_VARIABLES: &str =
    "/api/v5/orgs/{org}/rooms/{room}/visitors/{vid}/variables";
/// 5: the public room.
pub(crate) const ROOM: &str = "/api/v5/public/orgs/{org}/rooms/{room}";
/// 6: agents online in the room.
pub(crate) const ONLINE_USERS: &str = "/api/v5/public/orgs/{org}/rooms/{room}/online_users";
/// 7: start a chat as the visitor.
pub(crate) const START_CHAT: &str = "/api/v5/public/orgs/{org}/rooms/{room}/visitors/{vid}/chats";
/// 8 and 11: send and list a chat's messages as the visitor.
pub(crate) const VISITOR_MESSAGES: &str = "/api/v5/public/visitors/{vid}/chats/{chat}/messages";
/// 9: memberships of a chat (organization token).
pub(crate) const MEMBERSHIPS: &str = "/api/v5/orgs/{org}/owned_chats/{chat}/memberships";
/// 13: a chat's messages (organization token).
pub(crate) const OWNED_CHAT_MESSAGES: &str = "/api/v5/orgs/{org}/owned_chats/{chat}/messages";
/// 10: one chat (organization token).
pub(crate) const OWNED_CHAT: &str = "/api/v5/orgs/{org}/owned_chats/{chat}";
/// 11: the visitor's chats.
pub(crate) const VISITOR_CHATS: &str = "/api/v5/public/visitors/{vid}/chats";
/// 11 and 12: one chat of the visitor; `PATCH` ends it.
pub(crate) const VISITOR_CHAT: &str = "/api/v5/public/visitors/{vid}/chats/{chat}";
