//! How domain values are stored, on both engines: identifiers and names of
//! states as text, timestamps as integer milliseconds since the epoch. With these,
//! records hold typed values and queries bind them as they are.

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Encode, Type};

use crate::domain::activity::ActivityKind;
use crate::domain::ids::{
    ApiKeyId, ArtifactId, CommentId, ConsoleSessionId, EventId, OwnerId, PullRequestId, ShareLinkId, TaskId,
    TaskShareId, ViewId, ViewerSessionId, WebhookId,
};
use crate::domain::task::{Author, EventType, PullRequestStatus, TaskSource, TaskStatus};
use crate::domain::time::Timestamp;
use crate::domain::webhook::{DeliveryStatus, EndpointStatus};

/// Stores a type as the text `$to` makes of it, and reads it back with `$from`
/// (which may refuse text it does not know).
macro_rules! stored_as_text {
    ($($t:ty: |$v:ident| $to:expr, |$s:ident| $from:expr;)*) => {$(
        impl<DB: Database> Type<DB> for $t
        where
            String: Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <String as Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <String as Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: Database> Encode<'q, DB> for $t
        where
            String: Encode<'q, DB>,
        {
            fn encode_by_ref(&self, buf: &mut <DB as Database>::ArgumentBuffer<'q>) -> Result<IsNull, BoxDynError> {
                let $v = self;
                let text: String = $to;
                <String as Encode<'q, DB>>::encode(text, buf)
            }
        }

        impl<'r, DB: Database> Decode<'r, DB> for $t
        where
            String: Decode<'r, DB>,
        {
            fn decode(value: <DB as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
                let $s = <String as Decode<'r, DB>>::decode(value)?;
                $from
            }
        }
    )*};
}

/// Identifiers: their text, as it is.
macro_rules! ids_stored_as_text {
    ($($t:ty),*) => {
        stored_as_text! { $($t: |id| id.as_str().to_owned(), |text| Ok(<$t>::from(text));)* }
    };
}

ids_stored_as_text!(
    OwnerId,
    TaskId,
    ShareLinkId,
    ArtifactId,
    CommentId,
    WebhookId,
    EventId,
    TaskShareId,
    ViewerSessionId,
    ConsoleSessionId,
    PullRequestId,
    ViewId,
    ApiKeyId
);

/// Names of states: their lowercase name; an unknown name is a damaged row.
macro_rules! names_stored_as_text {
    ($($t:ident),*) => {
        stored_as_text! { $($t: |value| value.as_str().to_owned(), |text| {
            $t::parse(&text).ok_or_else(|| format!("unknown {} {text:?}", stringify!($t)).into())
        };)* }
    };
}

names_stored_as_text!(
    ActivityKind,
    TaskStatus,
    TaskSource,
    EventType,
    Author,
    PullRequestStatus,
    EndpointStatus,
    DeliveryStatus
);

impl<DB: Database> Type<DB> for Timestamp
where
    i64: Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <i64 as Type<DB>>::type_info()
    }

    fn compatible(ty: &DB::TypeInfo) -> bool {
        <i64 as Type<DB>>::compatible(ty)
    }
}

impl<'q, DB: Database> Encode<'q, DB> for Timestamp
where
    i64: Encode<'q, DB>,
{
    fn encode_by_ref(&self, buf: &mut <DB as Database>::ArgumentBuffer<'q>) -> Result<IsNull, BoxDynError> {
        <i64 as Encode<'q, DB>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r, DB: Database> Decode<'r, DB> for Timestamp
where
    i64: Decode<'r, DB>,
{
    fn decode(value: <DB as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Timestamp(<i64 as Decode<'r, DB>>::decode(value)?))
    }
}
