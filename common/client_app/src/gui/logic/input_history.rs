//! Input recall: earlier inputs come back with Up/Down like a shell. (The chat history that a
//! server replays is another thing, for a file of its own.)

/// Previously sent inputs, recalled with Up/Down like a shell.
#[derive(Debug, Clone, Default)]
pub struct InputHistory {
    items: Vec<String>,
    /// Index being shown while browsing.
    pos: Option<usize>,
    /// What was in the box when browsing started.
    draft: String,
}

impl InputHistory {
    /// Most inputs kept.
    pub const CAP: usize = 200;

    /// Remember a sent input (not twice in a row) and stop browsing.
    pub fn push(&mut self, text: &str) {
        self.pos = None;
        self.draft.clear();
        if text.trim().is_empty() || self.items.last().is_some_and(|l| l == text) {
            return;
        }
        if self.items.len() == Self::CAP {
            self.items.remove(0);
        }
        self.items.push(text.to_owned());
    }

    /// Up: the previous input, or `None` when there is nothing older (leave the box alone).
    pub fn up(&mut self, current: &str) -> Option<String> {
        let pos = match self.pos {
            None if self.items.is_empty() => return None,
            None => {
                self.draft = current.to_owned();
                self.items.len() - 1
            }
            Some(0) => return None,
            Some(p) => p - 1,
        };
        self.pos = Some(pos);
        Some(self.items[pos].clone())
    }

    /// Down: the next input, the draft after the newest, `None` when not browsing.
    pub fn down(&mut self) -> Option<String> {
        let p = self.pos?;
        if p + 1 < self.items.len() {
            self.pos = Some(p + 1);
            Some(self.items[p + 1].clone())
        } else {
            self.pos = None;
            Some(std::mem::take(&mut self.draft))
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Whether Up/Down should recall history rather than move the cursor: Up on the first line of
/// the input, Down on the last. `pos` is the cursor's byte offset in `text`.
pub fn recall_applies(text: &str, pos: usize, up: bool) -> bool {
    let pos = pos.min(text.len());
    if up {
        !text[..pos].contains('\n')
    } else {
        !text[pos..].contains('\n')
    }
}
