//! The errors of a submitted form, by field, so that a page can tie each to its input
//! (`aria-describedby`, `aria-invalid`) and list them all at the top (`role="alert"`).

/// Errors by field name (the input's `id`), plus those of the form as a whole.
#[derive(Debug, Default)]
pub struct FieldErrors {
    by_field: Vec<(&'static str, String)>,
    general: Vec<String>,
}

impl FieldErrors {
    pub fn none() -> Self {
        Self::default()
    }

    /// One error of the field whose input has the id `field`.
    pub fn field(field: &'static str, message: impl Into<String>) -> Self {
        let mut errors = Self::default();
        errors.add(field, message);
        errors
    }

    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.by_field.push((field, message.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.by_field.is_empty() && self.general.is_empty()
    }

    /// Whether the field has an error (its input gets `aria-invalid="true"`).
    pub fn has(&self, field: &str) -> bool {
        self.by_field.iter().any(|(f, _)| *f == field)
    }

    /// The field's errors as one sentence, shown under its input.
    pub fn on(&self, field: &str) -> Option<String> {
        let messages: Vec<&str> = self
            .by_field
            .iter()
            .filter(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
            .collect();
        (!messages.is_empty()).then(|| messages.join(" "))
    }

    /// Every error, the form's own first, with the field it belongs to (if any), for the list
    /// at the top of the form.
    pub fn all(&self) -> Vec<(Option<&'static str>, &str)> {
        self.general
            .iter()
            .map(|m| (None, m.as_str()))
            .chain(self.by_field.iter().map(|(f, m)| (Some(*f), m.as_str())))
            .collect()
    }
}

/// Errors that belong to no one field.
impl From<Vec<String>> for FieldErrors {
    fn from(general: Vec<String>) -> Self {
        Self {
            by_field: Vec::new(),
            general,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FieldErrors;

    #[test]
    fn errors_are_found_by_field_and_listed_together() {
        let mut errors = FieldErrors::from(vec!["Try again.".to_string()]);
        errors.add("password", "Too short.");
        errors.add("password", "Too common.");
        errors.add("username", "Taken.");

        assert!(errors.has("password") && errors.has("username") && !errors.has("other"));
        assert_eq!(
            errors.on("password").as_deref(),
            Some("Too short. Too common.")
        );
        assert_eq!(errors.on("other"), None);
        assert_eq!(errors.all().len(), 4);
        assert_eq!(errors.all()[0], (None, "Try again."));
        assert!(FieldErrors::none().is_empty());
    }
}
