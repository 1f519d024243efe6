// Placeholder: this package is filled by a later issue (see its package.json description).
export {};
