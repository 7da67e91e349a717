from velollm.main import main

raise SystemExit(main())
