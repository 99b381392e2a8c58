"""The pages' words, one module per part of the site, merged into one catalogue by web.i18n."""
