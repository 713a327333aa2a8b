using ThreadLineage.WebDemo;

// Serves on http://127.0.0.1:5080 (appsettings.json); override with --urls http://127.0.0.1:PORT.
await WebDemoApp.Create(args).RunAsync();
