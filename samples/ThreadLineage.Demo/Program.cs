using ThreadLineage;

var render = Lineage.Root.GetOrCreateManager("render");
render.Start(2, taskType: "component-render");
Console.WriteLine(await render.Submit(() => "rendered", "component-render"));
Console.WriteLine(Lineage.Describe());
await render.StopAsync();
