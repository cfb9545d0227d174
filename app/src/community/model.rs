//! The community's values as pages and server functions see them: posts,
//! comments, timelines, and who may see what.

use serde::{Deserialize, Serialize};

use crate::ids::{CommentId, PantryId, PhotoId, PostId, UserId};

/// Longest post, in characters.
pub const MAX_POST_CHARS: usize = 4000;
/// Longest comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 2000;
/// Posts a timeline page holds.
pub const PAGE_SIZE: i64 = 20;

/// Photos one post may hold.
pub const MAX_POST_PHOTOS: usize = 4;

/// What a post is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostKind {
    Announcement,
    /// "We need canned fruit."
    Need,
    Thanks,
    /// Something happening on a date (a food drive).
    Event,
    /// Written by Larder from what happened (a donation, a milestone).
    Automatic,
}

impl PostKind {
    /// The kinds people write.
    pub const WRITTEN: [PostKind; 4] = [Self::Announcement, Self::Need, Self::Thanks, Self::Event];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Announcement => "announcement",
            Self::Need => "need",
            Self::Thanks => "thanks",
            Self::Event => "event",
            Self::Automatic => "automatic",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Automatic]
            .into_iter()
            .chain(Self::WRITTEN)
            .find(|k| k.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Announcement => "Announcement",
            Self::Need => "Need",
            Self::Thanks => "Thank you",
            Self::Event => "Event",
            Self::Automatic => "From Larder",
        }
    }
}

/// Who may read a pantry's timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimelineVisibility {
    /// People with a role anywhere in the pantry's organization.
    Organization,
    /// Everyone signed in to this Larder (students who follow the pantry).
    SignedIn,
}

impl TimelineVisibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Organization => "organization",
            Self::SignedIn => "signed_in",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Organization, Self::SignedIn]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// Who may see a person's profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileVisibility {
    /// People who share an organization with them, and their followers.
    Organization,
    /// Only followers they accepted: a follow is a request.
    Followers,
    /// Everyone signed in.
    SignedIn,
}

impl ProfileVisibility {
    pub const ALL: [ProfileVisibility; 3] = [Self::Organization, Self::Followers, Self::SignedIn];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Organization => "organization",
            Self::Followers => "followers",
            Self::SignedIn => "signed_in",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Organization => "People in my organizations",
            Self::Followers => "Only followers I accept",
            Self::SignedIn => "Everyone signed in",
        }
    }
}

/// A person as a post or comment names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub id: UserId,
    pub name: String,
    /// Their photo, shown with their name (`/community/photos/{id}/…`).
    pub avatar: Option<PhotoId>,
}

/// One post, as its reader may see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostView {
    pub id: PostId,
    pub pantry: PantryId,
    pub pantry_name: String,
    /// None: written by Larder.
    pub author: Option<Person>,
    pub kind: PostKind,
    pub body: String,
    /// The people its @mentions name: (the word after @, who).
    pub mentions: Vec<(String, UserId)>,
    /// For an event: its date (YYYY-MM-DD).
    pub event_on: Option<String>,
    /// Its photos, in order (`/community/photos/{id}/…`).
    pub photos: Vec<PhotoId>,
    /// When it was posted, in the pantry's time zone.
    pub at: String,
    pub edited: bool,
    pub likes: i64,
    pub liked: bool,
    pub comments: i64,
    /// The author may edit it.
    pub can_edit: bool,
    /// The author, or a manager of the pantry, may delete it.
    pub can_delete: bool,
    /// Newer than the reader's last look at their home timeline.
    pub unread: bool,
}

/// A comment and (for a top-level one) its replies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentView {
    pub id: CommentId,
    pub author: Person,
    pub body: String,
    pub mentions: Vec<(String, UserId)>,
    pub at: String,
    pub edited: bool,
    pub likes: i64,
    pub liked: bool,
    pub can_delete: bool,
    pub replies: Vec<CommentView>,
}

/// A post with its comments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thread {
    pub post: PostView,
    pub comments: Vec<CommentView>,
}

/// A page of a timeline, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeline {
    pub posts: Vec<PostView>,
    /// Pass back for the next (older) page; none at the end.
    pub next: Option<String>,
    /// Posts on the home timeline newer than the last look.
    pub unread: i64,
    /// The home timeline ends here because its oldest posts were let go
    /// (they are still on their pantries' timelines).
    pub trimmed: bool,
}

/// Which posts Larder writes on a pantry's timeline by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutomaticPosts {
    /// A large donation came in.
    pub donations: bool,
    /// A round number of visits this semester.
    pub milestones: bool,
    /// A product that had run out is back.
    pub back_in_stock: bool,
    /// The stock issue analyser found an urgent need.
    pub needs: bool,
}

/// A pantry's timeline and what the reader may do there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PantryTimeline {
    pub pantry: PantryId,
    pub name: String,
    pub visibility: TimelineVisibility,
    pub can_post: bool,
    pub can_manage: bool,
    pub following: bool,
    pub followers: i64,
    /// For its managers: which automatic posts it has.
    pub automatic: Option<AutomaticPosts>,
    pub timeline: Timeline,
}

/// A person's profile, as the reader may see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileView {
    pub person: Person,
    /// The reader's own profile.
    pub mine: bool,
    /// False when the profile is for followers only and the reader is
    /// not one: only the name and the follow button show.
    pub visible: bool,
    pub bio: String,
    /// Who may see it (only on one's own).
    pub visibility: Option<ProfileVisibility>,
    /// Where they belong, in the organizations the reader shares:
    /// ("Staff", "Main Pantry").
    pub roles: Vec<(String, String)>,
    pub followers: i64,
    pub following: i64,
    /// The reader's follow: none, `active` or `requested`.
    pub follow: Option<String>,
    /// The reader blocked them.
    pub blocked: bool,
    pub posts: Vec<PostView>,
}

/// Someone in a list of followers, followed or blocked people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// A person's or a pantry's id.
    pub id: String,
    pub name: String,
    /// Where it links.
    pub link: String,
}

/// The reader's people: requests to answer, whom they follow, who
/// follows them, whom they blocked, and their own profile's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MyPeople {
    /// The caller, with their avatar.
    pub me: Person,
    pub requests: Vec<Entry>,
    pub following: Vec<Entry>,
    pub followers: Vec<Entry>,
    pub blocked: Vec<Entry>,
    pub bio: String,
    pub visibility: ProfileVisibility,
}

/// A piece of a post's text, for showing it with live links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Text(String),
    Link(String),
    /// `@word`, and the person it names if it named someone.
    Mention(String, Option<UserId>),
}

/// Splits text into plain runs, web links and @mentions. Only `http://`
/// and `https://` links become links (never `javascript:` or the like);
/// punctuation that ends a sentence stays outside the link.
pub fn segments(body: &str, mentions: &[(String, UserId)]) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    let mut text = String::new();
    let flush = |text: &mut String, out: &mut Vec<Segment>| {
        if !text.is_empty() {
            out.push(Segment::Text(std::mem::take(text)));
        }
    };
    for piece in body.split_inclusive(char::is_whitespace) {
        let word = piece.trim_end();
        let space = &piece[word.len()..];
        let core = word.trim_end_matches(['.', ',', '!', '?', ':', ';', ')']);
        let tail = &word[core.len()..];
        if (core.starts_with("https://") || core.starts_with("http://")) && core.len() > 8 {
            flush(&mut text, &mut out);
            out.push(Segment::Link(core.to_string()));
            text.push_str(tail);
            text.push_str(space);
        } else if let Some(token) = mention_token(core) {
            flush(&mut text, &mut out);
            let person = mentions
                .iter()
                .find(|(t, _)| t.eq_ignore_ascii_case(token))
                .map(|(_, p)| p.clone());
            out.push(Segment::Mention(token.to_string(), person));
            text.push_str(tail);
            text.push_str(space);
        } else {
            text.push_str(piece);
        }
    }
    flush(&mut text, &mut out);
    out
}

/// The name after `@` in a word that is a mention.
pub fn mention_token(word: &str) -> Option<&str> {
    let token = word.strip_prefix('@')?;
    let ok = !token.is_empty()
        && token.len() <= 64
        && token
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'));
    ok.then_some(token)
}

/// Every distinct @mention in a text, in order.
pub fn mention_tokens(body: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in body.split_whitespace() {
        let core = word.trim_end_matches(['.', ',', '!', '?', ':', ';', ')']);
        if let Some(t) = mention_token(core) {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(t)) {
                out.push(t.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_and_mentions_are_found_and_punctuation_stays_outside() {
        let ada = UserId::from_stored("u-ada".into());
        let s = segments(
            "Thanks @ada! See https://pantry.example/drive. javascript:alert(1) @nobody",
            &[("ada".into(), ada.clone())],
        );
        assert_eq!(
            s,
            vec![
                Segment::Text("Thanks ".into()),
                Segment::Mention("ada".into(), Some(ada)),
                Segment::Text("! See ".into()),
                Segment::Link("https://pantry.example/drive".into()),
                Segment::Text(". javascript:alert(1) ".into()),
                Segment::Mention("nobody".into(), None),
            ]
        );
        assert_eq!(
            mention_tokens("@Ada and @ada, @sam. email@x.org @"),
            vec!["Ada".to_string(), "sam".to_string()]
        );
    }

    #[test]
    fn line_breaks_survive_segmenting() {
        let s = segments("one\ntwo", &[]);
        assert_eq!(s, vec![Segment::Text("one\ntwo".into())]);
    }
}

/// A reported post, as its pantry's managers review it (who reported it
/// is not said).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedPost {
    pub post: PostId,
    pub excerpt: String,
    /// Its author's name ("Larder" for Larder's own).
    pub author: String,
    pub reports: i64,
    pub reasons: Vec<String>,
    /// When it was last reported, in the pantry's time zone.
    pub last_at: String,
}
